// The report printed when the hypervisor itself takes an exception: vector and its name, the
// error code decoded, RIP, every register and the control registers. Portable so host tests
// check the wording; the image calls it from the exception dispatcher before halting.
#pragma once

#include "arch-x86_64/cpu/exception_frame.hpp"
#include "hypervisor/console/writer.hpp"

namespace tandem::x86 {

const char* exception_mnemonic(std::uint64_t vector);  // "#PF"
const char* exception_name(std::uint64_t vector);      // "page fault"
void report_exception(Writer& out, const ExceptionFrame& frame, const ControlRegisters& cr);

}  // namespace tandem::x86
