// The Linux x86 boot protocol (guest-boot/linux_boot.hpp): bzImage parsing and loading, vmlinux
// loading, the zero page with command line, initrd and e820 map, and the GDT and identity page
// tables for 64-bit entry, against synthetic images (linux_image_builder.hpp) loaded into a
// GuestMemory over a host buffer. Every malformed image or request is refused with its reason and
// leaves guest memory as it was. When tests/guests/linux/fetch_assets.sh has fetched Debian's
// kernel, it is parsed and loaded too.
#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "arch-x86_64/vmx/guest_entry.hpp"
#include "arch-x86_64/vmx/guest_page_walk.hpp"
#include "guest-boot/linux_boot.hpp"
#include "helpers.hpp"
#include "linux_image_builder.hpp"
#include "vmx_fake_host_memory.hpp"
#include "vmx_fake_msrs.hpp"
#include "vmx_fake_vmcs.hpp"

using namespace tandem;
using namespace tandem::guest_boot;
using namespace tandem::guest_boot::linux_boot;
using test::BzImageBuilder;
using test::BzImageSpec;

namespace {

constexpr std::uint64_t kHost = 0x1'0000'0000;
constexpr std::uint64_t kRam = 32ull << 20;
constexpr std::uint8_t kUntouched = 0xcc;
constexpr std::uint64_t kGiB = 1ull << 30;

struct Guest {
    std::uint64_t size;
    test::VectorHostMemory host;
    GuestMemory memory{host};
    explicit Guest(std::uint64_t ram = kRam) : size(ram), host(kHost, ram, kUntouched) {
        REQUIRE(memory.append(kHost, ram).ok());
    }
    std::vector<std::uint8_t> read(std::uint64_t gpa, std::size_t n) const {
        std::vector<std::uint8_t> out(n);
        REQUIRE(memory.read(gpa, out).ok());
        return out;
    }
    std::uint64_t q(std::uint64_t gpa) const { return *memory.load<std::uint64_t>(gpa); }
    std::uint8_t b(std::uint64_t gpa) const { return *memory.load<std::uint8_t>(gpa); }
    bool untouched() const {
        for (std::uint8_t byte : host.regions()[0].bytes) {
            if (byte != kUntouched) return false;
        }
        return true;
    }
    std::unique_ptr<BootParams> zero_page(std::uint64_t at) const {
        auto bp = std::make_unique<BootParams>();
        auto raw = read(at, sizeof(BootParams));
        std::memcpy(bp.get(), raw.data(), raw.size());
        return bp;
    }
    std::string c_string(std::uint64_t at) const {
        std::string s;
        while (b(at) != 0) s += static_cast<char>(b(at++));
        return s;
    }
};

// The map the lead's EPT layout gives: low RAM, the legacy hole, RAM from 1 MiB, and MMIO
// windows (virtio-mmio, IOAPIC, LAPIC), deliberately out of order.
std::vector<MemoryRange> usual_map(std::uint64_t ram = kRam) {
    return {{0xd000'0000, 0x1000, E820Type::reserved},
            {0x10'0000, ram - 0x10'0000, E820Type::ram},
            {0, 0xa'0000, E820Type::ram},
            {0xa'0000, 0x6'0000, E820Type::reserved},
            {0xfec0'0000, 0x1000, E820Type::reserved},
            {0xfee0'0000, 0x1000, E820Type::reserved}};
}

std::vector<std::uint8_t> initrd_bytes(std::size_t n) {
    std::vector<std::uint8_t> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint8_t>(0x31 + i * 3);
    return v;
}

constexpr PhysRegion kBootData{0x1000, 0x10000};

void parse_fails(const std::vector<std::uint8_t>& file, const std::string& message, std::uint64_t value) {
    auto r = parse_bzimage(file);
    REQUIRE_FALSE(r.ok());
    CHECK(test::message(r.error()) == message);
    CHECK(r.error().has_value);
    CHECK(r.error().value == value);
}
void parse_fails(const BzImageSpec& spec, const std::string& message, std::uint64_t value) {
    parse_fails(BzImageBuilder::build(spec), message, value);
}

BzImage parsed(const std::vector<std::uint8_t>& file) {
    auto r = parse_bzimage(file);
    REQUIRE_MESSAGE(r.ok(), r.error().message);
    return *r;
}

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

// Packed fields are read by value: doctest would bind a reference to them.
template <class T>
T val(T v) {
    return v;
}

x86::GuestPagingState long_mode(std::uint64_t cr3) { return {0x8001'0033, cr3, 0x20, 0x500}; }

}  // namespace

TEST_SUITE("linux_boot") {

TEST_CASE("zero page and setup header layouts match bootparam.h") {
    // The static_asserts in linux_boot_params.hpp are the real check; these make the numbers visible.
    CHECK(sizeof(BootParams) == 4096);
    CHECK(offsetof(BootParams, e820_entries) == 0x1e8);
    CHECK(offsetof(BootParams, e820_table) == 0x2d0);
    CHECK(offsetof(BootParams, hdr) == 0x1f1);
    CHECK(offsetof(BootParams, ext_cmd_line_ptr) == 0xc8);
    CHECK(offsetof(BootParams, acpi_rsdp_addr) == 0x70);
    CHECK(offsetof(BootParams, hdr) + offsetof(SetupHeader, cmd_line_ptr) == 0x228);
    CHECK(offsetof(BootParams, hdr) + offsetof(SetupHeader, init_size) == 0x260);
    CHECK(sizeof(E820Entry) * kE820MaxEntries == 0xa00);
}

TEST_CASE("a valid bzImage: header fields, kernel and payload views, version string") {
    BzImageSpec spec;
    auto file = BzImageBuilder::build(spec);
    BzImage img = parsed(file);
    CHECK(val(img.header.version) == 0x020f);
    CHECK(img.header_end == 0x26c);
    CHECK(img.setup_size == 5 * 512);
    CHECK(img.protected_mode.size() == spec.kernel_size);
    CHECK(img.protected_mode.data() == file.data() + 5 * 512);
    CHECK(val(img.header.init_size) == spec.init_size);
    CHECK(val(img.header.kernel_alignment) == 0x200000);
    CHECK(val(img.header.pref_address) == 0x1000000);
    CHECK(val(img.header.cmdline_size) == 2047);
    CHECK(val(img.header.kernel_info_offset) == 0x1a0);
    CHECK(img.payload.size() == spec.payload_length);
    CHECK(img.payload.data() == img.protected_mode.data() + spec.payload_offset);
    CHECK(img.payload[0] == 0xfd);
    CHECK(img.version == spec.version_string);
    CHECK(default_load_address(img) == 0x1000000);

    // setup_sects 0 means 4 (boot.rst); a header that ends at 0x268 (protocol 2.12) is enough, and
    // the setup code after it is not taken for header fields.
    spec.setup_sects = 0;
    spec.jump_length = 0x66;
    auto old = BzImageBuilder::build(spec);
    BzImage o = parsed(old);
    CHECK(o.setup_size == 5 * 512);
    CHECK(o.header_end == 0x268);
    CHECK(val(o.header.kernel_info_offset) == 0);
    CHECK(val(o.header.handover_offset) == 0x190);

    // No payload fields, a version pointer outside the setup code, no pref_address: all fine.
    BzImageSpec bare;
    bare.payload_offset = bare.payload_length = 0;
    bare.pref_address = 0;
    auto bare_file = BzImageBuilder::build(bare);
    BzImageBuilder::put(bare_file, 0x20e, 2, 0x7000);
    BzImage b = parsed(bare_file);
    CHECK(b.payload.empty());
    CHECK(b.version.empty());
    CHECK(default_load_address(b) == 0x100000);
    // syssize may cover less than the rest of the file (Debian's is padded to 512 bytes).
    BzImageSpec padded;
    padded.syssize = 0x100;
    padded.payload_length = 0x800;
    CHECK(parse_bzimage(BzImageBuilder::build(padded)).ok());
}

TEST_CASE("malformed bzImages are refused with their reason") {
    auto good = BzImageBuilder::build({});
    parse_fails(std::vector<std::uint8_t>{}, "bzimage: file is shorter than a boot sector and the setup header", 0);
    parse_fails({good.begin(), good.begin() + 1023}, "bzimage: file is shorter than a boot sector and the setup header",
                1023);
    BzImageSpec s;
    s.boot_flag = 0x55aa;
    parse_fails(s, "bzimage: no boot flag 0xaa55 at offset 0x1fe", 0x55aa);
    s = {};
    s.magic = 0x53726449;
    parse_fails(s, "bzimage: no \"HdrS\" setup header at offset 0x202 (not a Linux kernel image)", 0x53726449);
    s = {};
    s.version = 0x020b;
    parse_fails(s, "bzimage: boot protocol older than 2.12, which 64-bit entry needs; version", 0x020b);
    auto no_jump = good;
    no_jump[0x200] = 0xe9;
    parse_fails(no_jump, "bzimage: no short jump at offset 0x200 to give the setup header's length", 0xe9);
    s = {};
    s.jump_length = 0x65;
    parse_fails(s, "bzimage: setup header ends before the fields of protocol 2.12; it ends at", 0x267);
    s = {};
    s.loadflags = 0;
    parse_fails(s, "bzimage: loadflags LOADED_HIGH clear: a zImage, which tandem cannot load", 0);
    s = {};
    s.xloadflags = 0x02;
    parse_fails(s, "bzimage: no 64-bit entry point (xloadflags XLF_KERNEL_64 clear)", 0x02);

    // setup_sects beyond the file, or leaving nothing after it.
    auto beyond = good;
    beyond[0x1f1] = 40;
    parse_fails(beyond, "bzimage: setup code (setup_sects) runs past the end of the file; setup size", 41 * 512);
    auto exact = good;
    exact[0x1f1] = static_cast<std::uint8_t>(good.size() / 512 - 1);
    parse_fails(exact, "bzimage: no protected-mode kernel after the setup code; file size", good.size());
    // Truncated kernels: syssize says more than the file has.
    parse_fails({good.begin(), good.end() - 16},
                "bzimage: protected-mode kernel (syssize) runs past the end of the file; size",
                0x3000);
    auto zero_sys = good;
    BzImageBuilder::put(zero_sys, 0x1f4, 4, 0);
    auto r = parse_bzimage(zero_sys);
    REQUIRE_FALSE(r.ok());
    CHECK(test::message(r.error()) == "bzimage: syssize is zero");
    auto huge_sys = good;
    BzImageBuilder::put(huge_sys, 0x1f4, 4, 0xffff'ffff);
    parse_fails(huge_sys, "bzimage: protected-mode kernel (syssize) runs past the end of the file; size",
                0xffff'ffffull * 16);

    for (std::uint32_t align : {0u, 3u, 0x300000u}) {
        s = {};
        s.kernel_alignment = align;
        parse_fails(s, "bzimage: kernel_alignment is not a power of two", align);
    }
    s = {};
    s.init_size = 0x2ff0;
    parse_fails(s, "bzimage: init_size is smaller than the protected-mode kernel", 0x2ff0);
    s = {};
    s.cmdline_size = 0;
    auto no_cmdline = parse_bzimage(BzImageBuilder::build(s));
    REQUIRE_FALSE(no_cmdline.ok());
    CHECK(test::message(no_cmdline.error()) == "bzimage: cmdline_size is zero");
    s = {};
    s.payload_offset = 0x2800;
    parse_fails(s, "bzimage: payload (payload_offset + payload_length) runs past the kernel; offset", 0x2800);
    s = {};
    s.payload_offset = 0xffff'ff00;
    s.payload_length = 0x1000;
    parse_fails(s, "bzimage: payload (payload_offset + payload_length) runs past the kernel; offset", 0xffff'ff00);
}

TEST_CASE("bzImage: the protected-mode kernel is copied to the load address, entry at +0x200") {
    Guest g;
    auto file = BzImageBuilder::build({});
    BzImage img = parsed(file);
    auto k = load_bzimage(img, g.memory, 0x1000000, kBootData);
    REQUIRE(k.ok());
    CHECK(k->format == KernelFormat::bzimage);
    CHECK(k->entry64 == 0x1000200);
    CHECK(k->start == 0x1000000);
    CHECK(k->end == 0x1003000);
    CHECK(k->reserve_end == 0x1100000);  // init_size
    CHECK(val(k->header.init_size) == 0x100000);
    CHECK(g.read(0x1000000, 0x3000) == std::vector<std::uint8_t>(file.begin() + 0xa00, file.end()));
    CHECK(g.b(0x1000000) == test::kernel_byte(0));
    CHECK(g.b(0x1000200) == 0xfd);  // the payload's magic
    CHECK(g.b(0xffffff) == kUntouched);
    CHECK(g.b(0x1003000) == kUntouched);  // the rest of init_size is the kernel's business

    // Any multiple of kernel_alignment will do for a relocatable kernel.
    Guest g2;
    auto low = load_bzimage(img, g2.memory, 0x200000, kBootData);
    REQUIRE(low.ok());
    CHECK(low->entry64 == 0x200200);
}

TEST_CASE("bzImage: load address, size and overlap refusals leave guest memory untouched") {
    auto check = [](const BzImage& img, std::uint64_t at, const std::string& message, std::uint64_t value,
                    std::uint64_t ram = kRam) {
        Guest g(ram);
        auto k = load_bzimage(img, g.memory, at, kBootData);
        REQUIRE_FALSE(k.ok());
        CHECK(test::message(k.error()) == message);
        CHECK(k.error().value == value);
        CHECK(g.untouched());
    };
    auto file = BzImageBuilder::build({});
    BzImage img = parsed(file);
    check(img, 0x1001000, "bzimage: load address is not a multiple of kernel_alignment", 0x1001000);
    check(img, kRam, "bzimage: kernel (load address to init_size) does not fit in guest memory; load address", kRam);
    check(img, 0xffff'ffff'ffe0'0000ull,
          "bzimage: kernel (load address to init_size) does not fit in guest memory; load address",
          0xffff'ffff'ffe0'0000ull);
    check(img, 0, "bzimage: kernel (load address to init_size) overlaps tandem's boot data; load address", 0);
    BzImageSpec fixed;
    fixed.relocatable = 0;
    auto fixed_file = BzImageBuilder::build(fixed);
    BzImage f = parsed(fixed_file);
    check(f, 0x200000, "bzimage: kernel is not relocatable and must load at pref_address", 0x1000000);
    Guest g;
    CHECK(load_bzimage(f, g.memory, 0x1000000, kBootData).ok());
    // init_size larger than the image: the whole of it must fit.
    BzImageSpec big;
    big.init_size = 0x1000000;
    auto big_file = BzImageBuilder::build(big);
    check(parsed(big_file), 0x1200000,
          "bzimage: kernel (load address to init_size) does not fit in guest memory; load address", 0x1200000);
}

TEST_CASE("vmlinux: segments at their physical addresses, physical e_entry, synthesised setup header") {
    Guest g;
    auto file = test::vmlinux_like().build();
    auto k = load_vmlinux(file, g.memory, kBootData);
    REQUIRE_MESSAGE(k.ok(), k.error().message);
    CHECK(k->format == KernelFormat::vmlinux);
    CHECK(k->entry64 == 0x1000000);
    CHECK(k->start == 0x1000000);
    CHECK(k->end == 0x1008000);
    CHECK(k->reserve_end == 0x1008000);
    CHECK(g.b(0x1000000) == 1);
    CHECK(g.b(0x1003000) == 3);  // the per-CPU segment, linked at virtual 0
    CHECK(g.b(0x1004100) == 0);  // bss
    const SetupHeader& h = k->header;
    CHECK(val(h.boot_flag) == 0xaa55);
    CHECK(val(h.header) == 0x53726448);
    CHECK(val(h.version) == 0x020f);
    CHECK(val(h.jump) == 0x6aeb);
    CHECK(val(h.type_of_loader) == 0xff);
    CHECK(val(h.loadflags) == (kLoadedHigh | kCanUseHeap));
    CHECK(val(h.xloadflags) == (kXlfKernel64 | kXlfCanBeLoadedAbove4g));
    CHECK(val(h.kernel_alignment) == 0x200000);
    CHECK(val(h.relocatable_kernel) == 0);
    CHECK(val(h.pref_address) == 0x1000000);
    CHECK(val(h.init_size) == 0x8000);
    CHECK(val(h.cmdline_size) == 2047);
    CHECK(val(h.initrd_addr_max) == 0x7fffffff);

    // A virtual e_entry (__START_KERNEL_map + phys) is translated through its segment.
    Guest g2;
    auto virt = load_vmlinux(test::vmlinux_like(0x200000, true).build(), g2.memory, kBootData);
    REQUIRE(virt.ok());
    CHECK(virt->entry64 == 0x200000);
    CHECK(virt->start == 0x200000);
}

TEST_CASE("vmlinux: 32-bit, non-ELF and misplaced kernels are refused untouched") {
    auto check = [](const std::vector<std::uint8_t>& file, const std::string& message) {
        Guest g;
        auto k = load_vmlinux(file, g.memory, kBootData);
        REQUIRE_FALSE(k.ok());
        CHECK(test::message(k.error()) == message);
        CHECK(g.untouched());
    };
    test::ElfBuilder elf32(false);
    elf32.entry(0x100000).segment({0x100000, 0x100000, std::vector<std::uint8_t>(16, 1), 0, 5});
    check(elf32.build(), "vmlinux: not a 64-bit kernel (ELF class)");
    check(BzImageBuilder::build({}), "elf: not an ELF file (bad magic)");  // a bzImage is no vmlinux
    check(test::vmlinux_like(kRam).build(), "elf: segment does not fit in guest memory; physical address");
    check(test::vmlinux_like(0).build(), "elf: segment overlaps memory tandem reserves for boot data; physical address");
    // An entry in the data segment's physical range is not executable.
    auto file = test::vmlinux_like().entry(0x1002010).build();
    check(file, "elf: entry point is in a non-executable segment");
}

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

TEST_CASE("entry tables with 2 MiB pages: identity map walked, GDT, accessed and dirty preset") {
    Guest g;
    auto t = write_entry_tables(g.memory, 0x1000, 0x8000, 3 * kGiB + 1, IdentityPageSize::size_2m);
    REQUIRE_MESSAGE(t.ok(), t.error().message);
    CHECK(t->gdt_base == 0x1000);
    CHECK(t->gdt_limit == 0x27);
    CHECK(t->cr3 == 0x2000);
    CHECK(t->mapped_end == 4 * kGiB);
    CHECK(t->size == 0x7000);  // GDT, PML4, PDPT, four page directories
    CHECK(g.q(0x1000 + kBootCs) == 0x00af9b000000ffffull);
    CHECK(g.q(0x1000 + kBootDs) == 0x00cf93000000ffffull);
    CHECK(g.q(0x2000) == (0x3000 | 0x23));  // present, writable, accessed
    CHECK(g.q(0x2008) == 0);                // nothing above 512 GiB
    for (std::uint64_t linear : {0x0ull, 0x1234ull, 0x1f'ffffull, 0x100'0200ull, 0x9000ull, 0x4000'1234ull,
                                 0xbfff'ffffull, 0xc000'0000ull, 0xffff'ffffull}) {
        CAPTURE(linear);
        auto gpa = x86::guest_linear_to_physical(g.memory, long_mode(t->cr3), linear);
        REQUIRE(gpa.ok());
        CHECK(*gpa == linear);
    }
    for (std::uint64_t i = 0; i < 4 * 512; ++i) {
        std::uint64_t e = g.q(0x4000 + 8 * i);
        if (e != ((i << 21) | 0xe3)) FAIL_CHECK("PD entry " << i << ": " << e);  // P, RW, A, D, PS
    }
    auto above = x86::guest_linear_to_physical(g.memory, long_mode(t->cr3), 4 * kGiB);
    REQUIRE_FALSE(above.ok());
    CHECK(test::message(above.error()) == "guest page walk: not present at linear address");
    CHECK(g.b(0x8000) == kUntouched);
    CHECK(entry_tables_size(0, IdentityPageSize::size_2m) == 0x4000);
    CHECK(entry_tables_size(kGiB, IdentityPageSize::size_2m) == 0x4000);
    CHECK(entry_tables_size(kGiB + 1, IdentityPageSize::size_2m) == 0x5000);
}

TEST_CASE("entry tables with 1 GiB pages, and their refusals") {
    Guest g;
    auto t = write_entry_tables(g.memory, 0x1000, 0x3000, 64 * kGiB, IdentityPageSize::size_1g);
    REQUIRE(t.ok());
    CHECK(t->size == 0x3000);
    CHECK(t->mapped_end == 64 * kGiB);
    for (std::uint64_t linear : {0x0ull, 0x100'0000ull, 0x7fff'ffffull, 0x8'0000'1234ull, 0xf'ffff'ffffull}) {
        CAPTURE(linear);
        auto gpa = x86::guest_linear_to_physical(g.memory, long_mode(t->cr3), linear);
        REQUIRE(gpa.ok());
        CHECK(*gpa == linear);
    }
    CHECK(g.q(0x3000 + 8 * 5) == ((5 * kGiB) | 0xe3));
    CHECK(g.q(0x3000 + 8 * 64) == 0);
    CHECK_FALSE(x86::guest_linear_to_physical(g.memory, long_mode(t->cr3), 64 * kGiB).ok());

    auto fails = [](std::uint64_t at, std::uint64_t capacity, std::uint64_t end, IdentityPageSize ps,
                    const std::string& message, std::uint64_t value) {
        Guest g2;
        auto r = write_entry_tables(g2.memory, at, capacity, end, ps);
        REQUIRE_FALSE(r.ok());
        CHECK(test::message(r.error()) == message);
        CHECK(r.error().value == value);
        CHECK(g2.untouched());
    };
    fails(0x1008, 0x8000, kGiB, IdentityPageSize::size_2m, "entry tables: address is not 4 KiB aligned", 0x1008);
    fails(0x1000, 0x8000, 513 * kGiB, IdentityPageSize::size_1g,
          "entry tables: an identity map beyond 512 GiB is not supported; map end", 513 * kGiB);
    fails(0x1000, 0x8000, 6 * kGiB + 1, IdentityPageSize::size_2m,
          "entry tables: more bytes needed than the boot-data layout gives", 0xa000);
    fails(kRam - 0x2000, 0x8000, kGiB, IdentityPageSize::size_2m, "entry tables: do not fit in guest memory; address",
          kRam - 0x2000);
}

TEST_CASE("the boot GDT describes the segments tandem's 64-bit entry state loads") {
    Guest g;
    REQUIRE(write_entry_tables(g.memory, 0x1000, 0x8000, kGiB, IdentityPageSize::size_2m).ok());
    test::FakeVmcs v;
    x86::GuestRegisters regs{};
    x86::CrPolicy cr = x86::cr_policy(test::bochs_msrs("corei7_skylake_x"));
    x86::write_guest_entry_state(v, regs, x86::GuestEntry{EntryMode::long64, 0x1000200}, cr);
    CHECK(v.read(x86::vmcs::guest_gdtr_base) == 0x1000);
    CHECK(v.read(x86::vmcs::guest_gdtr_limit) == kGdtLimit);
    CHECK(v.read(x86::vmcs::guest_cs_selector) == kBootCs);
    CHECK(v.read(x86::vmcs::guest_ds_selector) == kBootDs);
    CHECK(v.read(x86::vmcs::guest_ss_selector) == kBootDs);
    CHECK(v.read(x86::vmcs::guest_tr_selector) == kSelectorTss);
    struct Seg {
        x86::VmcsField selector, base, limit, access;
    };
    const Seg segments[] = {
        {x86::vmcs::guest_cs_selector, x86::vmcs::guest_cs_base, x86::vmcs::guest_cs_limit, x86::vmcs::guest_cs_access},
        {x86::vmcs::guest_ss_selector, x86::vmcs::guest_ss_base, x86::vmcs::guest_ss_limit, x86::vmcs::guest_ss_access},
        {x86::vmcs::guest_ds_selector, x86::vmcs::guest_ds_base, x86::vmcs::guest_ds_limit, x86::vmcs::guest_ds_access},
        {x86::vmcs::guest_tr_selector, x86::vmcs::guest_tr_base, x86::vmcs::guest_tr_limit, x86::vmcs::guest_tr_access}};
    for (const Seg& s : segments) {
        std::uint64_t d = g.q(0x1000 + v.read(s.selector));
        CAPTURE(v.read(s.selector));
        std::uint64_t base = ((d >> 16) & 0xffffff) | (((d >> 56) & 0xff) << 24);
        std::uint64_t limit = (d & 0xffff) | (((d >> 48) & 0xf) << 16);
        std::uint64_t access = (d >> 40) & 0xf0ff;
        if (access & 0x8000) limit = (limit << 12) | 0xfff;
        CHECK(base == v.read(s.base));
        CHECK(limit == v.read(s.limit));
        CHECK((access | 1) == (v.read(s.access) | 1));  // tandem's state may leave "accessed" to the CPU
    }
}

// Its own CTest entry (unit.debian_kernel, after the linux_assets fixture that fetches the kernel
// into this build tree); a missing kernel fails it.
TEST_CASE("Debian's kernel, as tests/guests/linux/fetch_assets.sh fetched it") {
    namespace fs = std::filesystem;
    const fs::path assets = TANDEM_GUEST_ASSETS;
    REQUIRE_MESSAGE((fs::exists(assets / "bzImage") && fs::exists(assets / "vmlinux")),
                    "no Debian kernel at " << assets.string()
                                           << ": run tests/guests/linux/fetch_assets.sh (ctest -R unit.debian_kernel does)");
    auto slurp = [](const fs::path& p) {
        std::ifstream in(p, std::ios::binary);
        return std::vector<std::uint8_t>(std::istreambuf_iterator<char>(in), {});
    };
    auto bz = slurp(assets / "bzImage");
    auto img = parse_bzimage(bz);
    REQUIRE_MESSAGE(img.ok(), img.error().message);
    CHECK(val(img->header.version) >= 0x020c);
    CHECK((img->header.xloadflags & kXlfKernel64) != 0);
    CHECK(val(img->header.relocatable_kernel) == 1);
    CHECK(img->payload.size() > 1'000'000);
    CHECK(img->version.substr(0, 4) == "6.1.");
    const unsigned version = val(img->header.version);
    MESSAGE("Debian kernel " << std::string(img->version) << ", boot protocol " << (version >> 8) << "."
                             << (version & 0xff) << ", init_size " << val(img->header.init_size));

    constexpr std::uint64_t ram = 256ull << 20;
    auto map = usual_map(ram);
    auto initrd = initrd_bytes(0x10000);
    LinuxBootRequest req;
    req.command_line = "console=ttyS0 nokaslr";
    req.memory_map = map;
    req.initrd = initrd;
    {
        Guest g(ram);
        auto k = load_bzimage(*img, g.memory, default_load_address(*img), kBootData);
        REQUIRE_MESSAGE(k.ok(), k.error().message);
        CHECK(k->entry64 == default_load_address(*img) + 0x200);
        auto r = prepare_linux_boot(g.memory, *k, req);
        REQUIRE_MESSAGE(r.ok(), r.error().message);
        CHECK(r->initrd_start == ram - 0x10000);
    }
    {
        auto vmlinux = slurp(assets / "vmlinux");
        Guest g(ram);
        auto k = load_vmlinux(vmlinux, g.memory, kBootData);
        REQUIRE_MESSAGE(k.ok(), k.error().message);
        CHECK(k->entry64 == 0x1000000);  // startup_64's physical address, which is e_entry
        CHECK(k->start == 0x1000000);
        auto r = prepare_linux_boot(g.memory, *k, req);
        REQUIRE_MESSAGE(r.ok(), r.error().message);
    }
}

}  // TEST_SUITE
