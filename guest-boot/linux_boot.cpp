#include "guest-boot/linux_boot.hpp"

#include "hypervisor/util/bytes.hpp"

namespace tandem::guest_boot::linux_boot {
namespace {

constexpr std::uint64_t kGiB = 1ull << 30;
constexpr std::uint64_t kMaxIdentityMap = 512 * kGiB;  // one PDPT under PML4[0]
constexpr std::size_t kHeaderEnd212 = 0x268;            // handover_offset (2.11) is the last 2.12 field
constexpr std::size_t kHeaderEndMax = kSetupHeaderOffset + sizeof(SetupHeader);
constexpr std::uint16_t kProtocol215 = 0x020f;
constexpr std::uint32_t kVmlinuxAlignment = 0x200000;  // CONFIG_PHYSICAL_ALIGN: head_64.S needs 2 MiB
constexpr std::uint32_t kVmlinuxCmdlineSize = 2047;     // COMMAND_LINE_SIZE 2048, less the NUL
constexpr std::uint32_t kVmlinuxInitrdAddrMax = 0x7fffffff;
// heap_end_ptr as boot.rst's sample loader sets it for a kernel loaded high (0xe000 - 0x200). Only
// the real-mode setup code reads it, and 64-bit entry skips that code; CAN_USE_HEAP says it is set.
constexpr std::uint16_t kHeapEndPtr = 0xe000 - 0x200;
// The entry stack: Linux's startup_64 (either kind) switches to its own stack before it pushes.
constexpr std::uint64_t kStackSize = 0x1000;

// Flat descriptors (SDM Vol. 3A §3.4.5): base 0, limit 4 GiB, present, DPL 0, the accessed bit
// already set so loading a selector never makes the CPU write the GDT. The layout is the test
// guests' (test_guest_abi.hpp) and what boot.rst asks for: __BOOT_CS 0x10, __BOOT_DS 0x18.
constexpr std::uint64_t kGdt[] = {
    0,
    0x00cf9b000000ffffull,  // 0x08: 32-bit code
    0x00af9b000000ffffull,  // 0x10: __BOOT_CS, 64-bit code (L=1, D=0)
    0x00cf93000000ffffull,  // 0x18: __BOOT_DS, data
    0x00008b0000000067ull,  // 0x20: busy 32/64-bit TSS at 0: VMX needs a usable TR; Linux loads its own
};
static_assert(sizeof(kGdt) == kGdtLimit + 1u);

// Paging-structure flags (SDM Vol. 3A §5.5). Accessed and dirty preset, as for the test guests'
// tables (test_guest_boot.cpp): the CPU then never writes these tables, which keeps them out of
// dirty tracking.
constexpr std::uint64_t kPresentWritable = 3, kLarge = 1ull << 7;
constexpr std::uint64_t kAccessed = 1ull << 5, kDirty = 1ull << 6;

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

struct Span {
    std::uint64_t start, end;
};

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
    for_each_entry(m, [&](std::uint64_t s, std::uint64_t e, E820Type type) {
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

// ---- entry tables --------------------------------------------------------------------------

Result<std::uint64_t> check_entry_tables(const GuestMemory& memory, std::uint64_t at, std::uint64_t capacity,
                                         std::uint64_t map_end, IdentityPageSize page_size) {
    if (at % kPageSize != 0) return Error::of("entry tables: address is not 4 KiB aligned", at);
    if (map_end > kMaxIdentityMap) {
        return Error::of("entry tables: an identity map beyond 512 GiB is not supported; map end", map_end);
    }
    std::uint64_t size = entry_tables_size(map_end, page_size);
    if (size > capacity) return Error::of("entry tables: more bytes needed than the boot-data layout gives", size);
    if (!memory.contains(at, size)) return Error::of("entry tables: do not fit in guest memory; address", at);
    return size;
}

Status write_tables(GuestMemory& memory, std::uint64_t at, std::uint64_t size, std::uint64_t gib,
                    IdentityPageSize page_size) {
    if (auto s = memory.fill(at, 0, size); !s) return s;
    for (std::size_t i = 0; i < sizeof(kGdt) / sizeof(kGdt[0]); ++i) {
        if (auto s = memory.store(at + 8 * i, kGdt[i]); !s) return s;
    }
    const std::uint64_t pml4 = at + kPageSize, pdpt = pml4 + kPageSize, pd = pdpt + kPageSize;
    if (auto s = memory.store<std::uint64_t>(pml4, pdpt | kPresentWritable | kAccessed); !s) return s;
    for (std::uint64_t i = 0; i < gib; ++i) {
        std::uint64_t entry = page_size == IdentityPageSize::size_1g
                                  ? (i * kGiB) | kPresentWritable | kLarge | kAccessed | kDirty
                                  : (pd + i * kPageSize) | kPresentWritable | kAccessed;
        if (auto s = memory.store<std::uint64_t>(pdpt + 8 * i, entry); !s) return s;
        if (page_size == IdentityPageSize::size_1g) continue;
        for (std::uint64_t j = 0; j < 512; ++j) {
            std::uint64_t large = (i * kGiB + (j << 21)) | kPresentWritable | kLarge | kAccessed | kDirty;
            if (auto s = memory.store<std::uint64_t>(pd + i * kPageSize + 8 * j, large); !s) return s;
        }
    }
    return success();
}

// ---- the zero page -------------------------------------------------------------------------

template <class T>
Status store_at(GuestMemory& memory, std::uint64_t boot_params, std::size_t offset, T value) {
    return memory.store<T>(boot_params + offset, value);
}

Status write_zero_page(GuestMemory& memory, const LoadedKernel& kernel, const LinuxBootRequest& request,
                       const SortedMap& map, std::uint64_t initrd_start) {
    const std::uint64_t bp = request.layout.boot_params;
    const std::uint64_t cmdline = request.layout.command_line;
    if (auto s = memory.fill(bp, 0, sizeof(BootParams)); !s) return s;

    // boot.rst, 64-bit Boot Protocol: start from the kernel's setup header, then write the fields
    // a loader writes ("write (obligatory)" and "modify").
    SetupHeader h = kernel.header;
    h.vid_mode = kVidModeNormal;
    h.type_of_loader = kLoaderUndefined;
    h.ext_loader_ver = 0;
    h.ext_loader_type = 0;
    h.loadflags = static_cast<std::uint8_t>(h.loadflags | kCanUseHeap);
    h.heap_end_ptr = kHeapEndPtr;
    h.code32_start = static_cast<std::uint32_t>(kernel.start);  // a relocated kernel's load address
    h.cmd_line_ptr = static_cast<std::uint32_t>(cmdline);
    h.ramdisk_image = static_cast<std::uint32_t>(initrd_start);
    h.ramdisk_size = static_cast<std::uint32_t>(request.initrd.size());
    h.hardware_subarch = 0;  // the default x86/PC environment
    h.hardware_subarch_data = 0;
    h.setup_data = 0;
    if (auto s = memory.write(bp + kSetupHeaderOffset, {reinterpret_cast<const std::uint8_t*>(&h), sizeof(h)}); !s) {
        return s;
    }
    // The upper halves of the 64-bit addresses (zero-page.rst, protocol 2.12's extension fields).
    if (auto s = store_at(memory, bp, offsetof(BootParams, ext_cmd_line_ptr), static_cast<std::uint32_t>(cmdline >> 32));
        !s) {
        return s;
    }
    if (auto s = store_at(memory, bp, offsetof(BootParams, ext_ramdisk_image),
                          static_cast<std::uint32_t>(initrd_start >> 32));
        !s) {
        return s;
    }
    if (auto s = store_at(memory, bp, offsetof(BootParams, ext_ramdisk_size),
                          static_cast<std::uint32_t>(static_cast<std::uint64_t>(request.initrd.size()) >> 32));
        !s) {
        return s;
    }
    if (auto s = store_at(memory, bp, offsetof(BootParams, acpi_rsdp_addr), request.acpi_rsdp); !s) return s;

    std::uint8_t count = 0;
    Status status = success();
    for_each_entry(map, [&](std::uint64_t start, std::uint64_t end, E820Type type) {
        if (!status) return;
        E820Entry e{start, end - start, type};
        status = memory.store(bp + offsetof(BootParams, e820_table) + sizeof(E820Entry) * count, e);
        ++count;
    });
    if (!status) return status;
    return store_at(memory, bp, offsetof(BootParams, e820_entries), count);
}

}  // namespace

// ---- bzImage -------------------------------------------------------------------------------

Result<BzImage> parse_bzimage(std::span<const std::uint8_t> f) {
    // The setup header straddles the boot sector's end and the first setup sector.
    if (f.size() < 2 * kSectorSize) {
        return Error::of("bzimage: file is shorter than a boot sector and the setup header", f.size());
    }
    auto boot_flag = load_le<std::uint16_t>(f, 0x1fe);
    if (boot_flag != kBootFlag) return Error::of("bzimage: no boot flag 0xaa55 at offset 0x1fe", boot_flag);
    auto magic = load_le<std::uint32_t>(f, 0x202);
    if (magic != kHeaderMagic) {
        return Error::of("bzimage: no \"HdrS\" setup header at offset 0x202 (not a Linux kernel image)", magic);
    }
    auto version = load_le<std::uint16_t>(f, 0x206);
    if (version < kMinimumProtocol) {
        return Error::of("bzimage: boot protocol older than 2.12, which 64-bit entry needs; version", version);
    }
    if (f[kJumpOffset] != 0xeb) {
        return Error::of("bzimage: no short jump at offset 0x200 to give the setup header's length", f[kJumpOffset]);
    }
    const std::size_t header_end = 0x202 + std::size_t{f[kJumpOffset + 1]};
    if (header_end < kHeaderEnd212) {
        return Error::of("bzimage: setup header ends before the fields of protocol 2.12; it ends at", header_end);
    }

    BzImage image;
    image.header_end = header_end;
    // Only the header's own bytes: what lies past its end belongs to the setup code (boot.rst,
    // 64-bit Boot Protocol: "the end of setup header can be calculated as 0x0202 + byte at 0x0201").
    auto* raw = reinterpret_cast<std::uint8_t*>(&image.header);
    for (std::size_t i = kSetupHeaderOffset; i < min(header_end, kHeaderEndMax); ++i) raw[i - kSetupHeaderOffset] = f[i];
    const SetupHeader& h = image.header;

    if (!(h.loadflags & kLoadedHigh)) {
        return Error::of("bzimage: loadflags LOADED_HIGH clear: a zImage, which tandem cannot load", h.loadflags);
    }
    if (!(h.xloadflags & kXlfKernel64)) {
        return Error::of("bzimage: no 64-bit entry point (xloadflags XLF_KERNEL_64 clear)", h.xloadflags);
    }
    const std::uint32_t setup_sects = h.setup_sects == 0 ? 4u : h.setup_sects;  // boot.rst: 0 means 4
    image.setup_size = (setup_sects + 1) * static_cast<std::uint32_t>(kSectorSize);
    if (image.setup_size > f.size()) {
        return Error::of("bzimage: setup code (setup_sects) runs past the end of the file; setup size", image.setup_size);
    }
    if (image.setup_size == f.size()) {
        return Error::of("bzimage: no protected-mode kernel after the setup code; file size", f.size());
    }
    image.protected_mode = f.subspan(image.setup_size);
    const std::uint64_t kernel_size = std::uint64_t{h.syssize} * 16;  // syssize counts 16-byte paragraphs
    if (kernel_size == 0) return Error::of("bzimage: syssize is zero");
    if (kernel_size > image.protected_mode.size()) {
        return Error::of("bzimage: protected-mode kernel (syssize) runs past the end of the file; size", kernel_size);
    }
    if (!power_of_two(h.kernel_alignment)) {
        return Error::of("bzimage: kernel_alignment is not a power of two", h.kernel_alignment);
    }
    if (h.init_size < kernel_size) {
        return Error::of("bzimage: init_size is smaller than the protected-mode kernel", h.init_size);
    }
    if (h.cmdline_size == 0) return Error::of("bzimage: cmdline_size is zero");
    if (h.payload_offset != 0 || h.payload_length != 0) {
        if (std::uint64_t{h.payload_offset} + h.payload_length > kernel_size) {
            return Error::of("bzimage: payload (payload_offset + payload_length) runs past the kernel; offset",
                             h.payload_offset);
        }
        image.payload = image.protected_mode.subspan(h.payload_offset, h.payload_length);
    }
    // The version string is for messages only: a bad pointer leaves it empty rather than refuse.
    if (h.kernel_version != 0) {
        std::string_view v;
        std::size_t at = 0x200 + std::size_t{h.kernel_version};
        if (at < image.setup_size && c_string_in(f, at, image.setup_size - at, v)) image.version = v;
    }
    return image;
}

std::uint64_t default_load_address(const BzImage& image) {
    return image.header.pref_address != 0 ? image.header.pref_address : 0x100000;
}

Result<LoadedKernel> load_bzimage(const BzImage& image, GuestMemory& memory, std::uint64_t load_address,
                                  PhysRegion reserved) {
    const SetupHeader& h = image.header;
    if (h.relocatable_kernel != 0) {
        if (load_address % h.kernel_alignment != 0) {
            return Error::of("bzimage: load address is not a multiple of kernel_alignment", load_address);
        }
    } else if (load_address != h.pref_address) {
        return Error::of("bzimage: kernel is not relocatable and must load at pref_address", h.pref_address);
    }
    // init_size counts from the runtime start, which is the load address once it is aligned
    // (boot.rst, init_size): the decompressor works inside [load, load + init_size).
    const std::uint64_t footprint = max(image.protected_mode.size(), h.init_size);
    if (!memory.contains(load_address, footprint)) {
        return Error::of("bzimage: kernel (load address to init_size) does not fit in guest memory; load address",
                         load_address);
    }
    if (overlaps(load_address, load_address + footprint, reserved.start, reserved.end)) {
        return Error::of("bzimage: kernel (load address to init_size) overlaps tandem's boot data; load address",
                         load_address);
    }
    if (auto s = memory.write(load_address, image.protected_mode); !s) return s.error();
    LoadedKernel k;
    k.format = KernelFormat::bzimage;
    k.header = h;
    k.entry64 = load_address + kEntry64Offset;
    k.start = load_address;
    k.end = load_address + image.protected_mode.size();
    k.reserve_end = align_up(load_address + footprint, kPageSize);
    return k;
}

// ---- vmlinux -------------------------------------------------------------------------------

SetupHeader vmlinux_setup_header(std::uint64_t start, std::uint64_t end) {
    SetupHeader h{};
    h.boot_flag = kBootFlag;
    h.jump = 0x6aeb;  // "jmp short" over a 0x6a-byte header: the header ends at 0x26c
    h.header = kHeaderMagic;
    h.version = kProtocol215;
    h.type_of_loader = kLoaderUndefined;
    h.loadflags = kLoadedHigh | kCanUseHeap;
    h.heap_end_ptr = kHeapEndPtr;
    h.kernel_alignment = kVmlinuxAlignment;
    h.min_alignment = 21;
    h.relocatable_kernel = 0;  // loaded where it is linked: p_paddr
    h.xloadflags = kXlfKernel64 | kXlfCanBeLoadedAbove4g;
    h.cmdline_size = kVmlinuxCmdlineSize;
    h.initrd_addr_max = kVmlinuxInitrdAddrMax;
    h.pref_address = start;
    h.code32_start = static_cast<std::uint32_t>(start);
    std::uint64_t extent = align_up(end - start, kPageSize);
    h.init_size = static_cast<std::uint32_t>(min(extent, 0xffff'f000ull));
    return h;
}

Result<LoadedKernel> load_vmlinux(std::span<const std::uint8_t> file, GuestMemory& memory, PhysRegion reserved) {
    constexpr std::uint8_t kElfMagic[4] = {0x7f, 'E', 'L', 'F'};
    bool elf = file.size() >= 5;
    for (std::size_t i = 0; elf && i < 4; ++i) elf = file[i] == kElfMagic[i];
    if (elf && file[4] != 2) return Error::of("vmlinux: not a 64-bit kernel (ELF class)", file[4]);
    auto loaded = load_elf(file, memory, reserved, EntryAddress::physical_or_virtual);
    if (!loaded) return loaded.error();
    LoadedKernel k;
    k.format = KernelFormat::vmlinux;
    k.header = vmlinux_setup_header(loaded->lowest, loaded->highest);
    k.entry64 = loaded->entry;
    k.start = loaded->lowest;
    k.end = loaded->highest;
    k.reserve_end = align_up(loaded->highest, kPageSize);
    return k;
}

// ---- memory map, tables, boot ---------------------------------------------------------------

Result<unsigned> check_memory_map(std::span<const MemoryRange> map, std::uint64_t guest_ram_size) {
    SortedMap sorted;
    return sort_and_check(map, guest_ram_size, sorted);
}

std::uint64_t entry_tables_size(std::uint64_t map_end, IdentityPageSize page_size) {
    std::uint64_t gib = max(1, align_up(map_end, kGiB) / kGiB);
    // The GDT's page, PML4, PDPT, and one page directory per GiB with 2 MiB pages.
    return kPageSize * (3 + (page_size == IdentityPageSize::size_2m ? gib : 0));
}

Result<EntryTables> write_entry_tables(GuestMemory& memory, std::uint64_t at, std::uint64_t capacity,
                                       std::uint64_t map_end, IdentityPageSize page_size) {
    auto size = check_entry_tables(memory, at, capacity, map_end, page_size);
    if (!size) return size.error();
    std::uint64_t gib = max(1, align_up(map_end, kGiB) / kGiB);
    if (auto s = write_tables(memory, at, *size, gib, page_size); !s) return s.error();
    EntryTables t;
    t.gdt_base = at;
    t.cr3 = at + kPageSize;
    t.mapped_end = gib * kGiB;
    t.size = *size;
    return t;
}

PhysRegion boot_data_region(const BootDataLayout& l) {
    std::uint64_t lo = min(min(l.tables, l.boot_params), min(l.command_line, l.stack_top - kStackSize));
    std::uint64_t hi = max(max(l.tables + l.tables_capacity, l.boot_params + sizeof(BootParams)),
                           max(l.command_line + l.command_line_capacity, l.stack_top));
    return {lo, hi};
}

Result<LinuxEntryState> prepare_linux_boot(GuestMemory& memory, const LoadedKernel& kernel,
                                           const LinuxBootRequest& request) {
    const BootDataLayout& l = request.layout;
    const SetupHeader& h = kernel.header;

    // The boot-data areas: inside guest memory, apart from each other and from the kernel.
    const Span areas[] = {{l.tables, l.tables + l.tables_capacity},
                          {l.boot_params, l.boot_params + sizeof(BootParams)},
                          {l.command_line, l.command_line + l.command_line_capacity},
                          {l.stack_top - kStackSize, l.stack_top}};
    if (l.stack_top % 16 != 0 || l.stack_top < kStackSize || l.stack_top > memory.size()) {
        return Error::of("linux boot: stack_top is not a 16-byte aligned address in guest memory", l.stack_top);
    }
    for (const Span& a : areas) {
        if (a.end <= a.start || !memory.contains(a.start, a.end - a.start)) {
            return Error::of("linux boot: a boot-data area lies outside guest memory; address", a.start);
        }
    }
    for (std::size_t i = 0; i < sizeof(areas) / sizeof(areas[0]); ++i) {
        for (std::size_t j = i + 1; j < sizeof(areas) / sizeof(areas[0]); ++j) {
            if (overlaps(areas[i].start, areas[i].end, areas[j].start, areas[j].end)) {
                return Error::of("linux boot: boot-data areas overlap at", max(areas[i].start, areas[j].start));
            }
        }
        if (overlaps(kernel.start, kernel.reserve_end, areas[i].start, areas[i].end)) {
            return Error::of("linux boot: the kernel (load address to init_size) overlaps the boot data; load address",
                             kernel.start);
        }
    }
    // cmd_line_ptr's and the zero page's upper halves are for a kernel that says it takes them.
    if (!(h.xloadflags & kXlfCanBeLoadedAbove4g) && max(areas[1].end, areas[2].end) > (1ull << 32)) {
        return Error::of("linux boot: zero page or command line above 4 GiB, which this kernel cannot take");
    }

    // The command line: at most cmdline_size characters (boot.rst, cmdline_size) and its NUL.
    const std::string_view cmdline = request.command_line;
    if (cmdline.size() > h.cmdline_size) {
        return Error::of("linux boot: command line longer than the kernel's cmdline_size", cmdline.size());
    }
    if (cmdline.size() + 1 > l.command_line_capacity) {
        return Error::of("linux boot: command line longer than tandem's buffer for it", cmdline.size());
    }
    for (std::size_t i = 0; i < cmdline.size(); ++i) {
        if (cmdline[i] == '\0') return Error::of("linux boot: command line contains a NUL byte at", i);
    }

    SortedMap map;
    auto entries = sort_and_check(request.memory_map, memory.size(), map);
    if (!entries) return entries.error();
    if (!inside_ram(map, kernel.start, kernel.reserve_end)) {
        return Error::of("linux boot: the kernel (load address to init_size) is not inside one RAM range of the "
                         "memory map; load address",
                         kernel.start);
    }

    // The initrd: as high as initrd_addr_max (the highest byte it may occupy) and RAM allow.
    std::uint64_t initrd_start = 0;
    const std::uint64_t initrd_size = request.initrd.size();
    if (initrd_size != 0) {
        if (!(h.xloadflags & kXlfCanBeLoadedAbove4g) && initrd_size > 0xffff'ffffull) {
            return Error::of("linux boot: initrd larger than ramdisk_size can say", initrd_size);
        }
        const Span avoid[] = {{kernel.start, kernel.reserve_end}, areas[0], areas[1], areas[2], areas[3]};
        auto placed = place_initrd(map, initrd_size, min(std::uint64_t{h.initrd_addr_max} + 1, memory.size()), avoid);
        if (!placed) return placed.error();
        initrd_start = *placed;
    }

    std::uint64_t map_end = max(kernel.reserve_end, initrd_start + initrd_size);
    for (const Span& a : areas) map_end = max(map_end, a.end);
    auto tables_size = check_entry_tables(memory, l.tables, l.tables_capacity, map_end, request.page_size);
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
    if (auto s = write_zero_page(memory, kernel, request, map, initrd_start); !s) return s.error();
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
