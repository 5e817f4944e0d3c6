// Multiboot 2 information parser (arch-x86_64/boot/multiboot2.hpp): the real GRUB block from
// Bochs, malformed variants of it, and synthetic blocks for each rule.
#include <doctest/doctest.h>

#include <cstring>
#include <memory>
#include <random>
#include <string>

#include "arch-x86_64/boot/multiboot2.hpp"
#include "helpers.hpp"
#include "mb2_builder.hpp"

using namespace tandem;
using namespace tandem::boot;
using test::Mb2Builder;
using test::Mb2Entry;

namespace {

constexpr std::uint64_t kGrubPhys = 0x168058;  // where GRUB put the fixture block

const std::vector<std::uint8_t>& grub_block() {
    static const std::vector<std::uint8_t> block = test::read_hex_fixture("mbi_grub_bochs.hex");
    return block;
}

struct Parsed {
    std::unique_ptr<BootInfo> info = std::make_unique<BootInfo>();  // 4 KiB+: keep it off the stack
    Status status = success();
};

// Parses a copy of exactly `bytes` on the heap, so ASan reports any read past the end.
Parsed parse(const std::vector<std::uint8_t>& bytes, std::uint64_t phys = 0x10000) {
    Parsed p;
    std::unique_ptr<std::uint8_t[]> copy(new std::uint8_t[bytes.size() + 1]);
    if (!bytes.empty()) std::memcpy(copy.get(), bytes.data(), bytes.size());
    p.status = parse_multiboot2({copy.get(), bytes.size()}, phys, *p.info);
    // Whatever the outcome, every string the parser returned lies inside the block.
    auto inside = [&](std::string_view s) {
        if (s.empty()) return;
        auto* b = reinterpret_cast<const char*>(copy.get());
        CHECK(s.data() >= b);
        CHECK(s.data() + s.size() < b + bytes.size());  // the NUL is inside too
    };
    inside(p.info->cmdline);
    inside(p.info->loader_name);
    CHECK(p.info->region_count <= BootInfo::kMaxRegions);
    CHECK(p.info->module_count <= BootInfo::kMaxModules);
    for (const BootModule& m : p.info->module_list()) inside(m.cmdline);
    p.info->cmdline = p.info->loader_name = {};  // the copy dies here: no dangling views escape
    for (std::size_t i = 0; i < p.info->module_count; ++i) p.info->modules[i].cmdline = {};
    p.info->acpi_rsdp = {};
    return p;
}

// Expects failure with exactly this message and offset.
void check_error(const Status& s, const char* message, std::uint64_t offset) {
    REQUIRE_FALSE(s.ok());
    CHECK(test::message(s.error()) == message);
    CHECK(s.error().has_value);
    CHECK(s.error().value == offset);
}

}  // namespace

TEST_SUITE("multiboot2") {

TEST_CASE("the real GRUB block parses into what GRUB was told") {
    const auto& block = grub_block();
    REQUIRE(block.size() == 1856);
    auto total = multiboot2_total_size(block);
    REQUIRE(total.ok());
    CHECK(*total == 1856);

    auto info = std::make_unique<BootInfo>();
    Status s = parse_multiboot2(block, kGrubPhys, *info);
    REQUIRE(s.ok());
    CHECK(info->protocol == BootInfo::Protocol::multiboot2);
    CHECK(info->loader_name == "GRUB 2.06-13+deb12u2");
    CHECK(info->has_cmdline);
    CHECK(info->cmdline == "dump_boot_info=1 mode=standalone \"guest_cmdline=console=ttyS0 quiet\"");

    REQUIRE(info->has_memory_map);
    REQUIRE(info->region_count == 6);
    const MemoryRegion expected[] = {
        {0x0, 0x9f000, 1},          {0x9f000, 0x1000, 2},         {0xe8000, 0x18000, 2},
        {0x100000, 0xfef0000, 1},   {0xfff0000, 0x10000, 3},      {0xfffc0000, 0x40000, 2},
    };
    for (std::size_t i = 0; i < 6; ++i) {
        CAPTURE(i);
        CHECK(info->regions[i].base == expected[i].base);
        CHECK(info->regions[i].length == expected[i].length);
        CHECK(info->regions[i].type == expected[i].type);
    }
    CHECK(info->regions[5].base + info->regions[5].length == 0x100000000ull);

    REQUIRE(info->module_count == 2);
    CHECK(info->modules[0].start == 0x169000);
    CHECK(info->modules[0].end == 0x16a388);
    CHECK(info->modules[0].cmdline == "kernel");
    CHECK(info->modules[1].start == 0x16b000);
    CHECK(info->modules[1].end == 0x189241);
    CHECK(info->modules[1].cmdline == "initrd");

    REQUIRE(info->acpi_rsdp.size() >= 20);
    CHECK(std::memcmp(info->acpi_rsdp.data(), "RSD PTR ", 8) == 0);
    CHECK(info->acpi_rsdp.data() >= block.data());
    CHECK(info->acpi_rsdp.data() + info->acpi_rsdp.size() <= block.data() + block.size());

    REQUIRE(info->loader_extent_count == 1);
    CHECK(info->loader_extents[0].start == kGrubPhys);
    CHECK(info->loader_extents[0].end == kGrubPhys + 1856);
}

TEST_CASE("every truncation of the GRUB block is refused without reading past it") {
    const auto& block = grub_block();
    for (std::size_t len = 0; len < block.size(); ++len) {
        CAPTURE(len);
        std::vector<std::uint8_t> cut(block.begin(), block.begin() + static_cast<std::ptrdiff_t>(len));
        CHECK_FALSE(parse(cut).status.ok());  // declared total_size (1856) kept
        if (len >= 4) {
            test::put_u32(cut, 0, static_cast<std::uint32_t>(len));
            CHECK_FALSE(parse(cut).status.ok());  // total_size patched to the truncated length
        }
    }
    // The exact messages at a few boundaries.
    std::vector<std::uint8_t> cut(block.begin(), block.begin() + 7);
    Status s = parse(cut).status;
    REQUIRE_FALSE(s.ok());
    CHECK(test::message(s.error()) == "multiboot2: information block is shorter than its 8-byte header");
    CHECK_FALSE(s.error().has_value);
    cut.assign(block.begin(), block.end() - 1);
    check_error(parse(cut).status, "multiboot2: total_size is larger than the block", 0);
    test::put_u32(cut, 0, 1848);  // the end tag cut off exactly
    cut.resize(1848);
    check_error(parse(cut).status, "multiboot2: block ends without an end tag", 1848);
}

TEST_CASE("total_size bounds") {
    Mb2Builder minimal;
    auto ok = minimal.end().build();
    REQUIRE(ok.size() == 16);
    CHECK(parse(ok).status.ok());

    auto bad = ok;
    test::put_u32(bad, 0, 15);
    check_error(parse(bad).status, "multiboot2: total_size is smaller than header plus end tag", 15);
    test::put_u32(bad, 0, 0);
    check_error(parse(bad).status, "multiboot2: total_size is smaller than header plus end tag", 0);

    // 1 MiB exactly is accepted; one byte more is not, even with a buffer that large.
    std::vector<std::uint8_t> big(kMultiboot2MaxBlock + 8, 0);
    test::put_u32(big, 0, kMultiboot2MaxBlock);
    test::put_u32(big, 12, 8);  // end tag at offset 8
    CHECK(parse(big).status.ok());
    test::put_u32(big, 0, kMultiboot2MaxBlock + 1);
    check_error(parse(big).status, "multiboot2: total_size is implausibly large", kMultiboot2MaxBlock + 1);
    test::put_u32(big, 0, 0xffffffff);
    check_error(parse(big).status, "multiboot2: total_size is implausibly large", 0xffffffff);

    test::put_u32(ok, 0, 24);  // larger than the 16 bytes we have
    check_error(parse(ok).status, "multiboot2: total_size is larger than the block", 0);
}

TEST_CASE("tag headers: too small, running past the end, missing or bad end tag") {
    SUBCASE("size smaller than the header") {
        for (std::uint32_t size : {0u, 1u, 7u}) {
            auto b = Mb2Builder{}.raw_tag(1, size, {}).end().build();
            check_error(parse(b).status, "multiboot2: tag size is smaller than the tag header", 8);
        }
    }
    SUBCASE("tag runs past the end") {
        Mb2Builder m;
        m.cmdline("x");
        std::size_t at = m.offset();
        auto b = m.raw_tag(2, 64, {'a', 0}).end().build();  // declares 64, block has 24 left
        check_error(parse(b).status, "multiboot2: tag runs past the end of the block", at);
        test::put_u32(b, at + 4, 0xffffffff);
        check_error(parse(b).status, "multiboot2: tag runs past the end of the block", at);
    }
    SUBCASE("no end tag") {
        Mb2Builder m;
        m.cmdline("abc");
        std::size_t end = m.offset();
        check_error(parse(m.build()).status, "multiboot2: block ends without an end tag", end);
    }
    SUBCASE("last tag's padding missing") {
        auto b = Mb2Builder{}.cmdline("abc").build();  // tag of 12 bytes, padded to 16
        b.resize(20);
        test::put_u32(b, 0, 20);
        check_error(parse(b).status, "multiboot2: block ends without an end tag", 8);
    }
    SUBCASE("end tag with a size other than 8") {
        Mb2Builder m;
        m.cmdline("abc");
        std::size_t at = m.offset();
        auto b = m.raw_tag(0, 16, std::vector<std::uint8_t>(8, 0)).build();
        check_error(parse(b).status, "multiboot2: end tag has a size other than 8", at);
    }
    SUBCASE("anything after the end tag is ignored") {
        auto b = Mb2Builder{}.cmdline("first").end().raw_tag(0xdead, 3, {}).cmdline("second").build();
        Parsed p = parse(b);
        CHECK(p.status.ok());
        CHECK(p.info->has_cmdline);
    }
}

TEST_CASE("strings: command line, loader name") {
    auto good = Mb2Builder{}.cmdline("a b").loader_name("L").tag(8, {1, 2, 3}).tag(99, {}).end().build();
    auto info = std::make_unique<BootInfo>();
    REQUIRE(parse_multiboot2(good, 0, *info).ok());
    CHECK(info->cmdline == "a b");
    CHECK(info->loader_name == "L");

    auto empty = Mb2Builder{}.cmdline("").end().build();
    REQUIRE(parse_multiboot2(empty, 0, *info).ok());
    CHECK(info->has_cmdline);
    CHECK(info->cmdline.empty());

    auto none = Mb2Builder{}.end().build();
    REQUIRE(parse_multiboot2(none, 0, *info).ok());
    CHECK_FALSE(info->has_cmdline);
    CHECK_FALSE(info->has_memory_map);
    CHECK(info->module_count == 0);
    CHECK(info->acpi_rsdp.empty());

    check_error(parse(Mb2Builder{}.string_tag(1, "abc", false).end().build()).status,
                "multiboot2: command line is not NUL-terminated inside its tag", 8);
    check_error(parse(Mb2Builder{}.raw_tag(1, 8, {}).end().build()).status,
                "multiboot2: command line is not NUL-terminated inside its tag", 8);
    check_error(parse(Mb2Builder{}.string_tag(2, "GRUB", false).end().build()).status,
                "multiboot2: boot loader name is not NUL-terminated inside its tag", 8);
    // The padding after a tag holds zeros, but it is not part of the tag.
    auto padded = Mb2Builder{}.string_tag(1, "abc", false).end().build();
    CHECK(padded[8 + 11] == 0);
    CHECK_FALSE(parse(padded).status.ok());

    Mb2Builder dup;
    dup.cmdline("one");
    std::size_t second = dup.offset();
    check_error(parse(dup.cmdline("two").end().build()).status, "multiboot2: second command line tag", second);
    Mb2Builder dup_name;
    dup_name.loader_name("one");
    second = dup_name.offset();
    check_error(parse(dup_name.loader_name("two").end().build()).status, "multiboot2: second boot loader name tag",
                second);
}

TEST_CASE("modules") {
    Parsed p = parse(Mb2Builder{}.module(0x1000, 0x2000, "a").module(0x3000, 0x3000, "").end().build());
    REQUIRE(p.status.ok());
    REQUIRE(p.info->module_count == 2);
    CHECK(p.info->modules[1].start == 0x3000);
    CHECK(p.info->modules[1].end == 0x3000);

    check_error(parse(Mb2Builder{}.module(0x2000, 0x1fff, "k").end().build()).status,
                "multiboot2: module ends before it starts", 8);
    check_error(parse(Mb2Builder{}.module(0x1000, 0x2000, "kernel", false).end().build()).status,
                "multiboot2: module string is not NUL-terminated inside its tag", 8);
    test::ByteBuilder header_only;
    header_only.u32(0x1000).u32(0x2000);
    check_error(parse(Mb2Builder{}.tag(3, header_only.bytes()).end().build()).status,
                "multiboot2: module tag is too short", 8);

    Mb2Builder sixteen;
    for (std::uint32_t i = 0; i < 16; ++i) sixteen.module(i * 0x1000, i * 0x1000 + 0x800, "m");
    auto ok16 = Mb2Builder{sixteen}.end().build();
    p = parse(ok16);
    REQUIRE(p.status.ok());
    CHECK(p.info->module_count == 16);
    std::size_t seventeenth = sixteen.offset();
    check_error(parse(sixteen.module(0x20000, 0x21000, "m").end().build()).status,
                "multiboot2: more modules than tandem accepts (16)", seventeenth);
}

TEST_CASE("memory map") {
    const std::vector<Mb2Entry> two = {{0, 0x9f000, 1}, {0x100000, 0x7f00000, 1}};
    Parsed p = parse(Mb2Builder{}.mmap(two).end().build());
    REQUIRE(p.status.ok());
    REQUIRE(p.info->region_count == 2);
    CHECK(p.info->regions[1].base == 0x100000);
    CHECK(p.info->regions[1].length == 0x7f00000);

    p = parse(Mb2Builder{}.mmap(two, 32).end().build());  // larger entries: the extra bytes are skipped
    REQUIRE(p.status.ok());
    REQUIRE(p.info->region_count == 2);
    CHECK(p.info->regions[1].base == 0x100000);

    for (std::uint32_t bad_size : {0u, 16u, 20u, 28u, 30u}) {
        CAPTURE(bad_size);
        auto b = Mb2Builder{}.mmap({}, bad_size, 24).end().build();
        check_error(parse(b).status,
                    "multiboot2: memory map entry size is not a multiple of 8 of at least 24 bytes", 16);
    }
    check_error(parse(Mb2Builder{}.mmap(two, 24, 10).end().build()).status,
                "multiboot2: memory map tag ends inside an entry", 8);
    check_error(parse(Mb2Builder{}.tag(6, {24, 0, 0, 0}).end().build()).status,
                "multiboot2: memory map tag is shorter than its header", 8);
    Mb2Builder twice;
    twice.mmap(two);
    std::size_t second = twice.offset();
    check_error(parse(twice.mmap(two).end().build()).status, "multiboot2: second memory map tag", second);

    // An entry ending exactly at 2^64 wraps to 0 and is refused, as is one past it; length 0 is fine.
    check_error(parse(Mb2Builder{}.mmap({{0xfffffffffffff000, 0x2000, 2}}).end().build()).status,
                "multiboot2: memory map entry wraps around the address space", 8 + 16);
    CHECK(parse(Mb2Builder{}.mmap({{0xfffffffffffff000, 0, 2}}).end().build()).status.ok());

    std::vector<Mb2Entry> many;
    for (std::uint64_t i = 0; i < 128; ++i) many.push_back({i << 20, 1 << 20, 1});
    p = parse(Mb2Builder{}.mmap(many).end().build());
    REQUIRE(p.status.ok());
    CHECK(p.info->region_count == 128);
    many.push_back({128ull << 20, 1 << 20, 1});
    check_error(parse(Mb2Builder{}.mmap(many).end().build()).status,
                "multiboot2: memory map has more entries than tandem accepts (128)", 8 + 16 + 128 * 24);
}

TEST_CASE("ACPI RSDP tags: the 2.0 copy wins, short tags are refused") {
    auto info = std::make_unique<BootInfo>();
    auto old_only = Mb2Builder{}.rsdp(14, 0x11, 20).end().build();
    REQUIRE(parse_multiboot2(old_only, 0, *info).ok());
    REQUIRE(info->acpi_rsdp.size() == 20);
    CHECK(info->acpi_rsdp[8] == 0x11);

    auto both = Mb2Builder{}.rsdp(14, 0x11, 20).rsdp(15, 0x22, 36).end().build();
    REQUIRE(parse_multiboot2(both, 0, *info).ok());
    REQUIRE(info->acpi_rsdp.size() == 36);
    CHECK(info->acpi_rsdp[8] == 0x22);

    auto new_first = Mb2Builder{}.rsdp(15, 0x22, 36).rsdp(14, 0x11, 20).end().build();
    REQUIRE(parse_multiboot2(new_first, 0, *info).ok());
    CHECK(info->acpi_rsdp[8] == 0x22);

    check_error(parse(Mb2Builder{}.tag(14, std::vector<std::uint8_t>(19, 0)).end().build()).status,
                "multiboot2: ACPI RSDP tag is too short", 8);
    check_error(parse(Mb2Builder{}.tag(15, std::vector<std::uint8_t>(8, 0)).end().build()).status,
                "multiboot2: ACPI RSDP tag is too short", 8);
}

TEST_CASE("a second parse starts from scratch") {
    auto info = std::make_unique<BootInfo>();
    REQUIRE(parse_multiboot2(grub_block(), kGrubPhys, *info).ok());
    REQUIRE(info->module_count == 2);
    auto small = Mb2Builder{}.module(1, 2, "only").end().build();
    REQUIRE(parse_multiboot2(small, 0x5000, *info).ok());
    CHECK(info->module_count == 1);
    CHECK(info->region_count == 0);
    CHECK_FALSE(info->has_cmdline);
    CHECK(info->loader_name.empty());
    CHECK(info->acpi_rsdp.empty());
    CHECK(info->loader_extent_count == 1);
    CHECK(info->loader_extents[0].start == 0x5000);
    CHECK(info->loader_extents[0].end == 0x5000 + small.size());
}

TEST_CASE("corrupting any byte of the GRUB block never crashes the parser") {
    const auto& block = grub_block();
    std::size_t ok = 0, refused = 0;
    for (std::size_t i = 0; i < block.size(); ++i) {
        for (std::uint8_t flip : {std::uint8_t{0x01}, std::uint8_t{0x80}, std::uint8_t{0xff}}) {
            auto bad = block;
            bad[i] ^= flip;
            (parse(bad).status.ok() ? ok : refused) += 1;
        }
    }
    // Flipping a byte of a string or an address is harmless; flipping a size is not.
    CHECK(ok > 0);
    CHECK(refused > 0);
    CHECK(ok + refused == 3 * block.size());

    std::mt19937 rng(20240611);
    for (int round = 0; round < 2000; ++round) {
        auto bad = block;
        for (int k = 0; k < 4; ++k) bad[rng() % bad.size()] = static_cast<std::uint8_t>(rng());
        (void)parse(bad);
    }
}

}  // TEST_SUITE
