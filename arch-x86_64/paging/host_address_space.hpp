// What the hypervisor's own page tables map, and how (W^X): the image's text RX, read-only
// data R+NX, data and bss RW+NX; all RAM the loader reported (available and ACPI ranges)
// RW+NX, identity-mapped; page 0 never, so a null pointer faults. Device memory is not mapped
// here: drivers map their registers uncached when they claim a device.
#pragma once

#include <cstddef>
#include <span>

#include "arch-x86_64/boot/boot_info.hpp"
#include "arch-x86_64/paging/page_table_builder.hpp"
#include "hypervisor/memory/page_range_set.hpp"

namespace tandem::x86 {

struct ImageLayout {
    PhysRange text;
    PhysRange rodata;
    PhysRange data;  // data and bss
};

struct HostMapping {
    PhysRange range;
    MapPermissions perm;
    const char* what;
};

inline constexpr std::size_t kMaxRamMappings = 160;
inline constexpr std::size_t kMaxHostMappings = kMaxRamMappings + 3;

// Fills `out` with the mappings to install, image sections first. Returns how many.
Result<std::size_t> plan_host_address_space(const ImageLayout& image, std::span<const boot::MemoryRegion> memory_map,
                                            std::span<HostMapping> out);

// Builds page tables for the plan through `builder` (identity: virtual == physical).
template <class Memory>
Status build_host_address_space(PageTableBuilder<Memory>& builder, std::span<const HostMapping> plan) {
    if (auto s = builder.create_root(); !s) return s;
    for (const HostMapping& m : plan) {
        if (auto s = builder.map(m.range.start, m.range.start, m.range.size(), m.perm); !s) return s;
    }
    return success();
}

}  // namespace tandem::x86
