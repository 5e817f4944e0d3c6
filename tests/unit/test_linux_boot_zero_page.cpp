// The Linux x86 boot protocol (guest-boot/linux_boot.hpp), the boot request: the zero page with
// setup header, command line, initrd and e820 map, where the initrd goes, and every request
// refused with its reason, leaving guest memory as it was (linux_boot_fixture.hpp).
#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "guest-boot/linux_boot.hpp"
#include "helpers.hpp"
#include "linux_boot_fixture.hpp"
#include "linux_image_builder.hpp"

using namespace tandem;
using namespace tandem::guest_boot;
using namespace tandem::guest_boot::linux_boot;
using namespace linux_boot_test;
using test::BzImageBuilder;
using test::BzImageSpec;

namespace {

LoadedKernel loaded_bzimage(Guest& g, const std::vector<std::uint8_t>& file, std::uint64_t at = 0x1000000) {
    auto k = load_bzimage(parsed(file), g.memory, at, kBootData);
    REQUIRE_MESSAGE(k.ok(), k.error().message);
    return *k;
}

// A request refused: with its reason, and nothing in guest memory changed by prepare.
void prepare_fails(const LoadedKernel& kernel, const LinuxBootRequest& request, const std::string& message,
                   std::uint64_t value, std::uint64_t ram = kRam) {
    Guest g(ram);
    auto r = prepare_linux_boot(g.memory, kernel, request);
    REQUIRE_FALSE(r.ok());
    CHECK(test::message(r.error()) == message);
    CHECK(r.error().value == value);
    CHECK(g.untouched());
}

}  // namespace

TEST_SUITE("linux_boot") {

TEST_CASE("the zero page: setup header, loader fields, command line, initrd, e820, entry state") {
    Guest g;
    auto file = BzImageBuilder::build({});
    LoadedKernel k = loaded_bzimage(g, file);
    auto map = usual_map();
    auto initrd = initrd_bytes(0x2345);
    LinuxBootRequest req;
    req.command_line = "console=ttyS0 nokaslr tandem.ip=10.0.2.15/24";
    req.initrd = initrd;
    req.memory_map = map;
    req.acpi_rsdp = 0xf0000;
    auto r = prepare_linux_boot(g.memory, k, req);
    REQUIRE_MESSAGE(r.ok(), r.error().message);

    CHECK(r->rip == 0x1000200);
    CHECK(r->rsi == 0x9000);
    CHECK(r->rsp == 0x10000);
    CHECK(r->cr3 == 0x2000);
    CHECK(r->gdt_base == 0x1000);
    CHECK(r->gdt_limit == 0x27);
    CHECK(r->identity_mapped_end == kGiB);
    CHECK(r->command_line == 0xa000);
    CHECK(r->initrd_start == kRam - 0x3000);  // the highest page-aligned place in RAM
    CHECK(r->initrd_size == 0x2345);
    CHECK(r->e820_entries == 6);

    CHECK(g.c_string(0xa000) == req.command_line);
    CHECK(g.read(r->initrd_start, initrd.size()) == initrd);
    auto bp = g.zero_page(0x9000);
    const SetupHeader& h = bp->hdr;
    // Read from the image...
    CHECK(val(h.boot_flag) == 0xaa55);
    CHECK(val(h.header) == 0x53726448);
    CHECK(val(h.version) == 0x020f);
    CHECK(val(h.init_size) == 0x100000);
    CHECK(val(h.kernel_alignment) == 0x200000);
    CHECK(val(h.xloadflags) == 0x03);
    // ...and written by the loader (boot.rst: obligatory and reloc fields).
    CHECK(val(h.type_of_loader) == 0xff);
    CHECK(val(h.loadflags) == (kLoadedHigh | kCanUseHeap));
    CHECK(val(h.vid_mode) == 0xffff);
    CHECK(val(h.heap_end_ptr) == 0xde00);
    CHECK(val(h.code32_start) == 0x1000000);
    CHECK(val(h.cmd_line_ptr) == 0xa000);
    CHECK(val(bp->ext_cmd_line_ptr) == 0);
    CHECK(val(h.ramdisk_image) == kRam - 0x3000);
    CHECK(val(h.ramdisk_size) == 0x2345);
    CHECK(val(bp->ext_ramdisk_image) == 0);
    CHECK(val(bp->ext_ramdisk_size) == 0);
    CHECK(val(bp->acpi_rsdp_addr) == 0xf0000);
    CHECK(val(bp->sentinel) == 0);
    // The setup code after the header (0x5a bytes in the image) is not part of the zero page.
    for (std::size_t i = 0x26c; i < 0x290; ++i) CHECK(g.b(0x9000 + i) == 0);
    // The e820 table, sorted.
    REQUIRE(val(bp->e820_entries) == 6);
    const E820Entry expected[] = {{0, 0xa0000, E820Type::ram},
                                  {0xa0000, 0x60000, E820Type::reserved},
                                  {0x100000, kRam - 0x100000, E820Type::ram},
                                  {0xd0000000, 0x1000, E820Type::reserved},
                                  {0xfec00000, 0x1000, E820Type::reserved},
                                  {0xfee00000, 0x1000, E820Type::reserved}};
    for (unsigned i = 0; i < 6; ++i) {
        CAPTURE(i);
        CHECK(val(bp->e820_table[i].addr) == val(expected[i].addr));
        CHECK(val(bp->e820_table[i].size) == val(expected[i].size));
        CHECK(val(bp->e820_table[i].type) == val(expected[i].type));
    }
    CHECK(val(bp->e820_table[6].size) == 0);
    // Nothing outside the boot data, the kernel and the initrd was written.
    CHECK(g.b(0xfff) == kUntouched);
    CHECK(g.b(0x10000) == kUntouched);
    CHECK(g.b(r->initrd_start - 1) == kUntouched);
    CHECK(g.b(r->initrd_start + initrd.size()) == kUntouched);
}

TEST_CASE("the zero page for a vmlinux carries the synthesised header; no initrd means zero fields") {
    Guest g;
    auto k = load_vmlinux(test::vmlinux_like().build(), g.memory, kBootData);
    REQUIRE(k.ok());
    auto map = usual_map();
    LinuxBootRequest req;
    req.command_line = "";
    req.memory_map = map;
    auto r = prepare_linux_boot(g.memory, *k, req);
    REQUIRE_MESSAGE(r.ok(), r.error().message);
    CHECK(r->rip == 0x1000000);
    CHECK(r->initrd_start == 0);
    CHECK(r->initrd_size == 0);
    auto bp = g.zero_page(r->rsi);
    CHECK(val(bp->hdr.version) == 0x020f);
    CHECK(val(bp->hdr.header) == 0x53726448);
    CHECK(val(bp->hdr.boot_flag) == 0xaa55);
    CHECK(val(bp->hdr.type_of_loader) == 0xff);
    CHECK(val(bp->hdr.loadflags) == (kLoadedHigh | kCanUseHeap));
    CHECK(val(bp->hdr.cmd_line_ptr) == 0xa000);
    CHECK(val(bp->hdr.ramdisk_image) == 0);
    CHECK(val(bp->hdr.ramdisk_size) == 0);
    CHECK(val(bp->hdr.init_size) == 0x8000);
    CHECK(val(bp->acpi_rsdp_addr) == 0);
    CHECK(g.b(0xa000) == 0);  // an empty command line is a lone NUL
}

TEST_CASE("initrd placement: below initrd_addr_max, around the kernel, adjacent RAM ranges merged") {
    auto file = BzImageBuilder::build({});
    // initrd_addr_max is the highest byte the initrd may occupy.
    {
        BzImageSpec s;
        s.initrd_addr_max = 0x17f'ffff;
        auto f = BzImageBuilder::build(s);
        Guest g;
        LoadedKernel k = loaded_bzimage(g, f);
        auto map = usual_map();
        auto initrd = initrd_bytes(0x1000);
        LinuxBootRequest req;
        req.memory_map = map;
        req.initrd = initrd;
        auto r = prepare_linux_boot(g.memory, k, req);
        REQUIRE(r.ok());
        CHECK(r->initrd_start == 0x17f'f000);
    }
    // A kernel at the top of RAM pushes the initrd below it; exactly filling the gap works.
    {
        Guest g;
        LoadedKernel k = loaded_bzimage(g, file, kRam - 0x200000);  // [30 MiB, 31 MiB)
        auto map = usual_map();
        auto initrd = initrd_bytes(0x100000 + 1);
        LinuxBootRequest req;
        req.memory_map = map;
        req.initrd = initrd;
        auto r = prepare_linux_boot(g.memory, k, req);
        REQUIRE(r.ok());
        CHECK(r->initrd_start == kRam - 0x200000 - 0x101000);
        std::vector<std::uint8_t> gap(0x100000);
        req.initrd = gap;
        Guest g2;
        LoadedKernel k2 = loaded_bzimage(g2, file, kRam - 0x200000);
        auto r2 = prepare_linux_boot(g2.memory, k2, req);
        REQUIRE(r2.ok());
        CHECK(r2->initrd_start == kRam - 0x100000);  // above the kernel's init_size
    }
    // RAM given as two adjacent ranges is one e820 entry, and an initrd may span the seam.
    {
        Guest g;
        LoadedKernel k = loaded_bzimage(g, file, 0x200000);
        std::vector<MemoryRange> map = {{0, 0xa0000, E820Type::ram},
                                        {0x100000, 0xf00000, E820Type::ram},
                                        {0x1000000, kRam - 0x1000000, E820Type::ram}};
        auto initrd = initrd_bytes(kRam - 0x1000000 + 0x1000);
        LinuxBootRequest req;
        req.memory_map = map;
        req.initrd = initrd;
        auto r = prepare_linux_boot(g.memory, k, req);
        REQUIRE_MESSAGE(r.ok(), r.error().message);
        CHECK(r->e820_entries == 2);
        CHECK(r->initrd_start == 0xfff000);
        auto bp = g.zero_page(r->rsi);
        CHECK(val(bp->e820_table[1].addr) == 0x100000);
        CHECK(val(bp->e820_table[1].size) == kRam - 0x100000);
    }
}

TEST_CASE("requests refused: command line, initrd, overlaps, memory map") {
    Guest loader;
    auto file = BzImageBuilder::build({});
    LoadedKernel k = loaded_bzimage(loader, file);
    auto map = usual_map();
    LinuxBootRequest base;
    base.memory_map = map;

    // The command line: cmdline_size characters at most (without the NUL), and tandem's buffer.
    std::string longest(2047, 'x');
    LinuxBootRequest req = base;
    req.command_line = longest;
    Guest ok;
    CHECK(prepare_linux_boot(ok.memory, k, req).ok());
    std::string too_long(2048, 'x');
    req.command_line = too_long;
    prepare_fails(k, req, "linux boot: command line longer than the kernel's cmdline_size", 2048);
    LoadedKernel roomy = k;
    roomy.header.cmdline_size = 0x10000;
    std::string page(0x1000, 'y');
    req.command_line = page;
    prepare_fails(roomy, req, "linux boot: command line longer than tandem's buffer for it", 0x1000);
    req.command_line = std::string_view("a\0b", 3);
    prepare_fails(k, req, "linux boot: command line contains a NUL byte at", 1);

    // The initrd: larger than all RAM, or with no room left beside the kernel.
    auto huge = initrd_bytes(kRam);
    req = base;
    req.initrd = huge;
    prepare_fails(k, req, "linux boot: no room for the initrd in RAM below initrd_addr_max; initrd size", kRam);
    LoadedKernel capped = k;
    capped.header.initrd_addr_max = 0xfffff;  // only low RAM, too small
    auto mib = initrd_bytes(0x100000);
    req.initrd = mib;
    prepare_fails(capped, req, "linux boot: no room for the initrd in RAM below initrd_addr_max; initrd size", 0x100000);
    LoadedKernel filling = k;
    filling.start = 0x100000;  // the kernel's footprint takes all RAM above 1 MiB
    filling.reserve_end = kRam;
    prepare_fails(filling, req, "linux boot: no room for the initrd in RAM below initrd_addr_max; initrd size", 0x100000);

    // The kernel and the boot data.
    LoadedKernel low = k;
    low.start = 0x8000;
    low.reserve_end = 0x20000;
    prepare_fails(low, base, "linux boot: the kernel (load address to init_size) overlaps the boot data; load address",
                  0x8000);
    LoadedKernel in_hole = k;
    in_hole.start = 0xc0000;
    in_hole.reserve_end = 0x120000;
    prepare_fails(in_hole, base,
                  "linux boot: the kernel (load address to init_size) is not inside one RAM range of the memory map; "
                  "load address",
                  0xc0000);
    req = base;
    req.layout.command_line = 0x9800;
    prepare_fails(k, req, "linux boot: boot-data areas overlap at", 0x9800);
    req = base;
    req.layout.boot_params = kRam - 0x800;
    prepare_fails(k, req, "linux boot: a boot-data area lies outside guest memory; address", kRam - 0x800);
    req = base;
    req.layout.stack_top = 0x10008;
    prepare_fails(k, req, "linux boot: stack_top is not a 16-byte aligned address in guest memory", 0x10008);
    req = base;
    req.layout.tables_capacity = 0x2000;
    prepare_fails(k, req, "entry tables: more bytes needed than the boot-data layout gives", 0x4000);
    req = base;
    req.layout.tables = 0x1800;
    req.layout.tables_capacity = 0x7000;
    prepare_fails(k, req, "entry tables: address is not 4 KiB aligned", 0x1800);
    req = base;
    req.layout.command_line = 0xf800;
    prepare_fails(k, req, "linux boot: boot-data areas overlap at", 0xf800);  // the entry stack
    req = base;
    req.layout.command_line = 0x1000800;
    prepare_fails(k, req, "linux boot: the kernel (load address to init_size) overlaps the boot data; load address",
                  0x1000000);
    // Boot-data areas may be scattered: a command line at the top of RAM is fine.
    req = base;
    req.layout.command_line = kRam - 0x1000;
    Guest scattered;
    auto top = prepare_linux_boot(scattered.memory, k, req);
    REQUIRE(top.ok());
    CHECK(top->command_line == kRam - 0x1000);
    CHECK(val(scattered.zero_page(0x9000)->hdr.cmd_line_ptr) == kRam - 0x1000);

    // The memory map.
    auto map_fails = [&](std::vector<MemoryRange> m, const std::string& message, std::uint64_t value) {
        LinuxBootRequest r = base;
        r.memory_map = m;
        prepare_fails(k, r, message, value);
        auto checked = check_memory_map(m, kRam);
        REQUIRE_FALSE(checked.ok());
        CHECK(test::message(checked.error()) == message);
    };
    auto m = usual_map();
    m.push_back({0x9f000, 0x2000, E820Type::reserved});
    map_fails(m, "e820: ranges overlap at", 0x9f000);
    m = usual_map();
    m.push_back({0x5000'0000, 0, E820Type::reserved});
    map_fails(m, "e820: empty range at", 0x5000'0000);
    m = usual_map();
    m.push_back({0xffff'ffff'ffff'f000, 0x2000, E820Type::reserved});
    map_fails(m, "e820: range wraps past the end of the address space", 0xffff'ffff'ffff'f000);
    m = usual_map();
    m.push_back({0x5000'0000, 0x1000, static_cast<E820Type>(7)});
    map_fails(m, "e820: unknown range type", 7);
    m = usual_map(kRam + 0x1000);
    map_fails(m, "e820: a RAM range extends past guest memory; range start", 0x100000);
    m.assign(129, MemoryRange{0, 0x1000, E820Type::reserved});
    map_fails(m, "e820: more ranges than boot_params holds (128)", 129);
    map_fails({{0, kRam, E820Type::ram}}, "e820: Linux ignores a memory map of fewer than two entries", 1);
    map_fails({{0, 0x100000, E820Type::ram}, {0x100000, kRam - 0x100000, E820Type::ram}},
              "e820: Linux ignores a memory map of fewer than two entries", 1);
    // The full 128 entries fit.
    std::vector<MemoryRange> full = usual_map();
    for (std::uint64_t i = 0; full.size() < 128; ++i) {
        full.push_back({0xe000'0000 + 0x2000 * i, 0x1000, E820Type::reserved});
    }
    CHECK(check_memory_map(full, kRam).ok());
    CHECK(*check_memory_map(full, kRam) == 128);
}

}  // TEST_SUITE
