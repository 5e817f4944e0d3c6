// Deliberate faults, selected with selftest= on the command line, that prove on a real boot
// that the exception report works and that the host page tables enforce W^X and catch null
// pointers. Each one ends in the exception report and a halt.
#pragma once

#include "hypervisor/config/config.hpp"

namespace tandem::x86 {

void run_selftest(Selftest which);

}  // namespace tandem::x86
