// The guest's memory map as the e820 table (zero-page.rst, e820_table; arch/x86/kernel/e820.c):
// the caller's ranges checked, sorted by address through an index array (no allocation) and
// merged where adjacent ranges have one type, which is what the zero page carries and what the
// kernel's and initrd's placement is checked against.
#include "guest-boot/linux_boot.hpp"
#include "guest-boot/linux_boot_detail.hpp"

namespace tandem::guest_boot::linux_boot {
namespace detail {

Result<unsigned> sort_and_check(std::span<const MemoryRange> map, std::uint64_t ram_size, SortedMap& sorted) {
    if (map.size() > kE820MaxEntries) return Error::of("e820: more ranges than boot_params holds (128)", map.size());
    sorted.ranges = map;
    for (std::size_t i = 0; i < map.size(); ++i) {
        const MemoryRange& r = map[i];
        if (r.size == 0) return Error::of("e820: empty range at", r.start);
        if (r.start + r.size < r.start) return Error::of("e820: range wraps past the end of the address space", r.start);
        auto type = static_cast<std::uint32_t>(r.type);
        if (type < static_cast<std::uint32_t>(E820Type::ram) || type > static_cast<std::uint32_t>(E820Type::unusable)) {
            return Error::of("e820: unknown range type", type);
        }
        if (r.type == E820Type::ram && !(r.start <= ram_size && r.size <= ram_size - r.start)) {
            return Error::of("e820: a RAM range extends past guest memory; range start", r.start);
        }
        // Insertion sort of the indices: at most 128 of them, no allocation.
        std::size_t at = i;
        while (at > 0 && map[sorted.order[at - 1]].start > r.start) {
            sorted.order[at] = sorted.order[at - 1];
            --at;
        }
        sorted.order[at] = static_cast<std::uint8_t>(i);
    }
    for (std::size_t i = 1; i < map.size(); ++i) {
        const MemoryRange& prev = map[sorted.order[i - 1]];
        const MemoryRange& r = map[sorted.order[i]];
        if (r.start < prev.start + prev.size) return Error::of("e820: ranges overlap at", r.start);
    }
    unsigned entries = 0;
    for_each_entry(sorted, [&](std::uint64_t, std::uint64_t, E820Type) { ++entries; });
    // arch/x86/kernel/e820.c (append_e820_table): a table of fewer than two entries is ignored.
    if (entries < 2) return Error::of("e820: Linux ignores a memory map of fewer than two entries", entries);
    return entries;
}

bool inside_ram(const SortedMap& m, std::uint64_t start, std::uint64_t end) {
    bool inside = false;
    for_each_entry(m, [&](std::uint64_t s, std::uint64_t e, E820Type type) {
        if (type == E820Type::ram && start >= s && end <= e) inside = true;
    });
    return inside;
}

}  // namespace detail

Result<unsigned> check_memory_map(std::span<const MemoryRange> map, std::uint64_t guest_ram_size) {
    detail::SortedMap sorted;
    return detail::sort_and_check(map, guest_ram_size, sorted);
}

}  // namespace tandem::guest_boot::linux_boot
