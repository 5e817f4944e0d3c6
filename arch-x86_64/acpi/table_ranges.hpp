// Where ACPI tables may lie, so that a table pointer into a device's registers or a hole is
// refused rather than read: ranges the loader's memory map describes, of any type (firmware keeps
// tables in ACPI, NVS or plain reserved ranges: SeaBIOS uses reserved), and the legacy areas of
// the first MiB where an RSDP may be (ACPI 6.5 §5.2.5.1), which not every loader's map lists.
#pragma once

#include <cstdint>
#include <span>

#include "arch-x86_64/acpi/rsdp_scan.hpp"
#include "arch-x86_64/boot/boot_info.hpp"

namespace tandem::acpi {

// The EBDA lies below the 640 KiB line (its segment word points there); kBiosArea*: rsdp_scan.hpp.
inline constexpr std::uint64_t kEbdaAreaStart = 0x80000;
inline constexpr std::uint64_t kEbdaAreaEnd = 0xa0000;

// True when [start, end) lies in one legacy area or is covered by memory-map entries (adjacent
// or overlapping entries may share a table between them).
constexpr bool may_hold_tables(std::span<const boot::MemoryRegion> map, std::uint64_t start, std::uint64_t end) {
    if (end <= start) return false;
    if ((start >= kEbdaAreaStart && end <= kEbdaAreaEnd) || (start >= kBiosAreaStart && end <= kBiosAreaEnd)) return true;
    while (start < end) {
        bool advanced = false;
        for (const boot::MemoryRegion& r : map) {
            if (r.length != 0 && r.base <= start && start - r.base < r.length) {
                std::uint64_t region_end = r.base + r.length;
                start = region_end < r.base ? end : region_end;  // a region to the top of memory
                advanced = true;
                break;
            }
        }
        if (!advanced) return false;
    }
    return true;
}

}  // namespace tandem::acpi
