// Translating a guest-linear address to guest-physical by walking the guest's own page tables
// in guest memory (Intel SDM Vol. 3A §5.3-§5.5): no paging, 32-bit paging, PAE and 4-level
// paging. Used to show the instruction bytes at the guest's RIP in exit reports; every table
// read is a bounds-checked guest-memory access.
#pragma once

#include <cstdint>

#include "hypervisor/util/result.hpp"
#include "hypervisor/vm/guest_memory.hpp"

namespace tandem::x86 {

struct GuestPagingState {
    std::uint64_t cr0, cr3, cr4, efer;
};

Result<std::uint64_t> guest_linear_to_physical(const GuestMemory& memory, const GuestPagingState& state,
                                               std::uint64_t linear);

}  // namespace tandem::x86
