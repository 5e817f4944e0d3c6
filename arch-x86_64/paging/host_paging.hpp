// Builds the hypervisor's W^X page tables from the plan (host_address_space.hpp) with frames
// from the allocator, and switches CR3 to them. After this, the boot loader's 4 GiB
// writable+executable identity map is gone.
#pragma once

#include <span>

#include "arch-x86_64/boot/boot_info.hpp"
#include "arch-x86_64/paging/host_address_space.hpp"
#include "hypervisor/memory/frame_allocator.hpp"

namespace tandem::x86 {

struct HostPagingReport {
    std::size_t mappings;
    std::size_t tables;
    std::uint64_t root;
};

ImageLayout image_layout();
Result<HostPagingReport> activate_host_paging(std::span<const boot::MemoryRegion> memory_map, FrameAllocator& frames);

}  // namespace tandem::x86
