// The Linux x86 boot protocol (guest-boot/linux_boot.hpp), the kernel images: bzImage parsing
// and loading and vmlinux loading, against synthetic images (linux_image_builder.hpp) loaded into
// a GuestMemory over a host buffer (linux_boot_fixture.hpp). Every malformed image is refused with
// its reason and leaves guest memory as it was. When tests/guests/linux/fetch_assets.sh has
// fetched Debian's kernel, it is parsed and loaded too.
#include <doctest/doctest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
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
