// What the Linux boot protocol's files share and nobody else needs (linux_boot.hpp is the
// interface): address arithmetic, the sorted and merged e820 view of the caller's memory map
// (linux_e820.cpp), and the entry-table check and zero-page writer that prepare_linux_boot
// (linux_boot.cpp) calls only once everything has been checked.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "guest-boot/linux_boot.hpp"

namespace tandem::guest_boot::linux_boot::detail {

// heap_end_ptr as boot.rst's sample loader sets it for a kernel loaded high (0xe000 - 0x200). Only
// the real-mode setup code reads it, and 64-bit entry skips that code; CAN_USE_HEAP says it is set.
inline constexpr std::uint16_t kHeapEndPtr = 0xe000 - 0x200;

constexpr bool overlaps(std::uint64_t a0, std::uint64_t a1, std::uint64_t b0, std::uint64_t b1) {
    return a0 < b1 && b0 < a1;
}
constexpr std::uint64_t align_up(std::uint64_t v, std::uint64_t a) { return (v + a - 1) & ~(a - 1); }
constexpr std::uint64_t align_down(std::uint64_t v, std::uint64_t a) { return v & ~(a - 1); }
constexpr bool power_of_two(std::uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }
constexpr std::uint64_t max(std::uint64_t a, std::uint64_t b) { return a > b ? a : b; }
constexpr std::uint64_t min(std::uint64_t a, std::uint64_t b) { return a < b ? a : b; }

// ---- the memory map: sorted through an index array, merged on the fly ----------------------

struct SortedMap {
    std::span<const MemoryRange> ranges;
    std::uint8_t order[kE820MaxEntries];
};

// Calls f(start, end, type) for each entry of the map sorted by address, with adjacent ranges of
// the same type merged: the e820 table as boot_params carries it.
template <class F>
void for_each_entry(const SortedMap& m, F&& f) {
    std::size_t i = 0;
    while (i < m.ranges.size()) {
        const MemoryRange& first = m.ranges[m.order[i]];
        std::uint64_t start = first.start, end = first.start + first.size;
        for (++i; i < m.ranges.size(); ++i) {
            const MemoryRange& next = m.ranges[m.order[i]];
            if (next.start != end || next.type != first.type) break;
            end = next.start + next.size;
        }
        f(start, end, first.type);
    }
}

// Checks `map` as check_memory_map() documents and sorts it into `sorted`; returns the entry count.
Result<unsigned> sort_and_check(std::span<const MemoryRange> map, std::uint64_t ram_size, SortedMap& sorted);

// Whether [start, end) lies inside one (merged) RAM entry.
bool inside_ram(const SortedMap& m, std::uint64_t start, std::uint64_t end);

// ---- what prepare_linux_boot writes --------------------------------------------------------

// write_entry_tables' checks alone, so they can run before anything is written: the table bytes.
Result<std::uint64_t> check_entry_tables(const GuestMemory& memory, std::uint64_t at, std::uint64_t capacity,
                                         std::uint64_t map_end, IdentityPageSize page_size);

// The zero page at request.layout.boot_params: the kernel's setup header with the loader's
// fields, the upper halves of the 64-bit addresses, the RSDP, and the e820 table from `map`.
Status write_zero_page(GuestMemory& memory, const LoadedKernel& kernel, const LinuxBootRequest& request,
                       const SortedMap& map, std::uint64_t initrd_start);

}  // namespace tandem::guest_boot::linux_boot::detail
