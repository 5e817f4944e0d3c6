// Base address registers: decoding and sizing (PCI Local Bus Specification 3.0 §6.2.5.1).
// Sizing writes all ones to a BAR and reads back which address bits stick; while a BAR holds
// all ones it would decode a bogus range, so memory and I/O decode are switched off in the
// command register for the duration and the command register is restored afterwards (the
// specification's implementation note in §6.2.5.1).
#pragma once

#include <cstdint>
#include <span>

#include "nic-drivers/pci/config_space.hpp"
#include "nic-drivers/pci/device.hpp"

namespace tandem::pci {

// The size a BAR decodes, from the all-ones read-back with the flag bits cleared: the lowest
// address bit that sticks. `mask` is 64 bits wide (a 32-bit BAR's upper half reads as ones).
// Taking the lowest bit, not ~mask + 1, also sizes an I/O BAR whose decoder implements only
// 16 bits and reads zeros above them (allowed by §6.2.5.1).
constexpr std::uint64_t bar_size_from_mask(std::uint64_t mask) { return mask & (~mask + 1); }
static_assert(bar_size_from_mask(0xffff'ffff'fffe'0000ull) == 128 * 1024);
static_assert(bar_size_from_mask(0xffff'fffc'0000'0000ull) == 16ull << 30);
static_assert(bar_size_from_mask(0) == 0);

// Reads and sizes the `bars.size()` BARs (6 for type 0, 2 for type 1) of the function at `at`.
// Unimplemented BARs, and a 64-bit BAR that would run past the last slot, come back as none.
void probe_bars(ConfigSpace& config, Address at, std::span<Bar> bars);

}  // namespace tandem::pci
