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
// Maps a device's registers (a PCI BAR) uncached, read/write, never executable. Identity:
// the registers are then reached at their physical address. Mapping an already mapped range is
// refused.
Status map_device_memory(std::uint64_t phys, std::uint64_t size);
// Maps firmware's tables (ACPI, ACPI 6.5 §5.2) for reading: read-only, never executable,
// write-back (they are memory; the MTRRs still rule), identity, page by page. Pages already
// mapped (the RAM and ACPI ranges of the memory map, a BAR) stay as they are; page 0 is refused,
// so a null pointer still faults.
Status map_firmware_tables(std::uint64_t phys, std::uint64_t size);

}  // namespace tandem::x86
