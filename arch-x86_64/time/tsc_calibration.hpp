// Measures the TSC frequency against the PIT (8254 channel 2, gated by port 0x61), as real
// hardware needs and as Bochs needs too (its TSC advances once per emulated instruction, so its
// rate equals the configured ips, not the brand string's GHz).
#pragma once

#include <cstdint>

namespace tandem::x86 {

// The TSC rate in kHz (the smallest of a few 10 ms measurements), or 0 if the PIT never
// counted down (no PIT: the caller reports that).
std::uint64_t calibrate_tsc_khz();

}  // namespace tandem::x86
