// Translating a guest-linear address to guest-physical by walking the guest's own page tables
// in guest memory (Intel SDM Vol. 3A §5.3-§5.5): no paging, 32-bit paging, PAE and 4-level
// paging. Used to fetch the instruction at the guest's RIP (device-memory accesses, exit reports);
// every table read is a bounds-checked guest-memory access. An entry that is not present or has a
// reserved bit set (one reserved whatever the physical-address width: hardware would raise #PF)
// ends the walk with an error naming the linear address; address bits beyond guest RAM fail at
// the access that follows.
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
