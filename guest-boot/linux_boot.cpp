// The Linux boot protocol's last step (linux_boot.hpp): the caller's request checked against the
// loaded kernel and guest memory (boot-data areas, command line, memory map), the initrd placed,
// and only then the initrd, the command line, the zero page and the entry tables written, so that
// a refused request leaves guest memory as it was. The kernel formats, the e820 map, the zero page
// and the entry tables have files of their own (linux_bzimage.cpp, linux_vmlinux.cpp,
// linux_e820.cpp, linux_zero_page.cpp, linux_entry_tables.cpp).
#include "guest-boot/linux_boot.hpp"
#include "guest-boot/linux_boot_detail.hpp"

namespace tandem::guest_boot::linux_boot {

using detail::align_down;
using detail::max;
using detail::min;
using detail::overlaps;
using detail::SortedMap;

namespace {

// The entry stack: Linux's startup_64 (either kind) switches to its own stack before it pushes.
constexpr std::uint64_t kStackSize = 0x1000;

struct Span {
    std::uint64_t start, end;
};

// A layout's boot-data areas, in the order the checks go through them.
enum Area : std::size_t { kTablesArea, kZeroPageArea, kCommandLineArea, kStackArea, kAreaCount };
struct BootAreas {
    Span at[kAreaCount];
    const Span* begin() const { return at; }
    const Span* end() const { return at + kAreaCount; }
};

BootAreas boot_areas(const BootDataLayout& l) {
    return {{{l.tables, l.tables + l.tables_capacity},
             {l.boot_params, l.boot_params + sizeof(BootParams)},
             {l.command_line, l.command_line + l.command_line_capacity},
             {l.stack_top - kStackSize, l.stack_top}}};
}

// The boot-data areas: inside guest memory, apart from each other and from the kernel.
Status check_boot_data(const GuestMemory& memory, const LoadedKernel& kernel, const BootDataLayout& l,
                       const BootAreas& areas) {
    if (l.stack_top % 16 != 0 || l.stack_top < kStackSize || l.stack_top > memory.size()) {
        return Error::of("linux boot: stack_top is not a 16-byte aligned address in guest memory", l.stack_top);
    }
    for (const Span& a : areas) {
        if (a.end <= a.start || !memory.contains(a.start, a.end - a.start)) {
            return Error::of("linux boot: a boot-data area lies outside guest memory; address", a.start);
        }
    }
    for (std::size_t i = 0; i < kAreaCount; ++i) {
        for (std::size_t j = i + 1; j < kAreaCount; ++j) {
            if (overlaps(areas.at[i].start, areas.at[i].end, areas.at[j].start, areas.at[j].end)) {
                return Error::of("linux boot: boot-data areas overlap at", max(areas.at[i].start, areas.at[j].start));
            }
        }
        if (overlaps(kernel.start, kernel.reserve_end, areas.at[i].start, areas.at[i].end)) {
            return Error::of("linux boot: the kernel (load address to init_size) overlaps the boot data; load address",
                             kernel.start);
        }
    }
    // cmd_line_ptr's and the zero page's upper halves are for a kernel that says it takes them.
    if (!(kernel.header.xloadflags & kXlfCanBeLoadedAbove4g) &&
        max(areas.at[kZeroPageArea].end, areas.at[kCommandLineArea].end) > (1ull << 32)) {
        return Error::of("linux boot: zero page or command line above 4 GiB, which this kernel cannot take");
    }
    return success();
}

// The command line: at most cmdline_size characters (boot.rst, cmdline_size) and its NUL.
Status check_command_line(std::string_view cmdline, const SetupHeader& h, const BootDataLayout& l) {
    if (cmdline.size() > h.cmdline_size) {
        return Error::of("linux boot: command line longer than the kernel's cmdline_size", cmdline.size());
    }
    if (cmdline.size() + 1 > l.command_line_capacity) {
        return Error::of("linux boot: command line longer than tandem's buffer for it", cmdline.size());
    }
    for (std::size_t i = 0; i < cmdline.size(); ++i) {
        if (cmdline[i] == '\0') return Error::of("linux boot: command line contains a NUL byte at", i);
    }
    return success();
}

// The highest page-aligned start for `size` bytes inside one RAM entry, ending at or below
// `limit`, overlapping none of `avoid`. The best end is the end of a RAM entry or the start of
// something to avoid, so only those are tried.
Result<std::uint64_t> place_initrd(const SortedMap& m, std::uint64_t size, std::uint64_t limit,
                                   std::span<const Span> avoid) {
    bool found = false;
    std::uint64_t best = 0;
    auto try_end = [&](std::uint64_t ram_start, std::uint64_t end) {
        if (end < size) return;
        std::uint64_t start = align_down(end - size, kPageSize);
        if (start < ram_start || (found && start <= best)) return;
        for (const Span& a : avoid) {
            if (overlaps(start, start + size, a.start, a.end)) return;
        }
        best = start;
        found = true;
    };
    detail::for_each_entry(m, [&](std::uint64_t s, std::uint64_t e, E820Type type) {
        if (type != E820Type::ram) return;
        std::uint64_t top = min(e, limit);
        if (top <= s) return;
        try_end(s, top);
        for (const Span& a : avoid) {
            if (a.start > s && a.start <= top) try_end(s, a.start);
        }
    });
    if (!found) return Error::of("linux boot: no room for the initrd in RAM below initrd_addr_max; initrd size", size);
    return best;
}

// The initrd's address (0 without one): as high as initrd_addr_max (the highest byte it may
// occupy) and RAM allow, clear of the kernel and the boot data.
Result<std::uint64_t> initrd_address(const GuestMemory& memory, const LoadedKernel& kernel,
                                     const LinuxBootRequest& request, const SortedMap& map, const BootAreas& areas) {
    const SetupHeader& h = kernel.header;
    const std::uint64_t initrd_size = request.initrd.size();
    if (initrd_size == 0) return std::uint64_t{0};
    if (!(h.xloadflags & kXlfCanBeLoadedAbove4g) && initrd_size > 0xffff'ffffull) {
        return Error::of("linux boot: initrd larger than ramdisk_size can say", initrd_size);
    }
    const Span avoid[] = {{kernel.start, kernel.reserve_end}, areas.at[kTablesArea], areas.at[kZeroPageArea],
                          areas.at[kCommandLineArea], areas.at[kStackArea]};
    return place_initrd(map, initrd_size, min(std::uint64_t{h.initrd_addr_max} + 1, memory.size()), avoid);
}

}  // namespace

PhysRegion boot_data_region(const BootDataLayout& l) {
    std::uint64_t lo = min(min(l.tables, l.boot_params), min(l.command_line, l.stack_top - kStackSize));
    std::uint64_t hi = max(max(l.tables + l.tables_capacity, l.boot_params + sizeof(BootParams)),
                           max(l.command_line + l.command_line_capacity, l.stack_top));
    return {lo, hi};
}

Result<LinuxEntryState> prepare_linux_boot(GuestMemory& memory, const LoadedKernel& kernel,
                                           const LinuxBootRequest& request) {
    const BootDataLayout& l = request.layout;
    const BootAreas areas = boot_areas(l);
    if (auto s = check_boot_data(memory, kernel, l, areas); !s) return s.error();
    const std::string_view cmdline = request.command_line;
    if (auto s = check_command_line(cmdline, kernel.header, l); !s) return s.error();

    SortedMap map;
    auto entries = detail::sort_and_check(request.memory_map, memory.size(), map);
    if (!entries) return entries.error();
    if (!detail::inside_ram(map, kernel.start, kernel.reserve_end)) {
        return Error::of("linux boot: the kernel (load address to init_size) is not inside one RAM range of the "
                         "memory map; load address",
                         kernel.start);
    }
    auto placed = initrd_address(memory, kernel, request, map, areas);
    if (!placed) return placed.error();
    const std::uint64_t initrd_start = *placed;
    const std::uint64_t initrd_size = request.initrd.size();

    std::uint64_t map_end = max(kernel.reserve_end, initrd_start + initrd_size);
    for (const Span& a : areas) map_end = max(map_end, a.end);
    auto tables_size = detail::check_entry_tables(memory, l.tables, l.tables_capacity, map_end, request.page_size);
    if (!tables_size) return tables_size.error();

    // Everything checked: write.
    if (initrd_size != 0) {
        if (auto s = memory.write(initrd_start, request.initrd); !s) return s.error();
    }
    if (auto s = memory.fill(l.command_line, 0, l.command_line_capacity); !s) return s.error();
    if (auto s = memory.write(l.command_line, {reinterpret_cast<const std::uint8_t*>(cmdline.data()), cmdline.size()});
        !s) {
        return s.error();
    }
    if (auto s = detail::write_zero_page(memory, kernel, request, map, initrd_start); !s) return s.error();
    auto tables = write_entry_tables(memory, l.tables, l.tables_capacity, map_end, request.page_size);
    if (!tables) return tables.error();

    LinuxEntryState e;
    e.rip = kernel.entry64;
    e.rsi = l.boot_params;
    e.rsp = l.stack_top;
    e.cr3 = tables->cr3;
    e.gdt_base = tables->gdt_base;
    e.gdt_limit = tables->gdt_limit;
    e.identity_mapped_end = tables->mapped_end;
    e.command_line = l.command_line;
    e.initrd_start = initrd_start;
    e.initrd_size = initrd_size;
    e.e820_entries = *entries;
    return e;
}

}  // namespace tandem::guest_boot::linux_boot
