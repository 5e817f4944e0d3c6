// The guest ELF loader (guest-boot/elf_loader.hpp) against ELF32 and ELF64 files built here
// (vmx_fake_elf_builder.hpp), loaded into a GuestMemory over a host buffer. Malformed files are
// refused with a reason, and a refused file leaves guest memory exactly as it was.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "guest-boot/elf_loader.hpp"
#include "helpers.hpp"
#include "vmx_fake_elf_builder.hpp"
#include "vmx_fake_host_memory.hpp"

using namespace tandem;
using namespace tandem::guest_boot;
using test::ElfBuilder;
using test::ElfField;
using test::ElfSegment;

namespace {

constexpr std::uint64_t kHostBase = 0x1000'0000;
constexpr std::uint64_t kRamSize = 2ull << 20;
constexpr PhysRegion kReserved{0x1000, 0x10000};  // what tandem reserves for test guests
constexpr std::uint8_t kUntouched = 0xcc;

std::vector<std::uint8_t> bytes(std::size_t n, std::uint8_t seed) {
    std::vector<std::uint8_t> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint8_t>(seed + i * 7);
    return v;
}

struct Guest {
    test::VectorHostMemory host{kHostBase, kRamSize, kUntouched};
    GuestMemory memory{host};
    Guest() { REQUIRE(memory.append(kHostBase, kRamSize).ok()); }

    Result<LoadedElf> load(const std::vector<std::uint8_t>& file) { return load_elf(file, memory, kReserved); }
    std::vector<std::uint8_t> read(std::uint64_t gpa, std::size_t n) const {
        std::vector<std::uint8_t> out(n);
        REQUIRE(memory.read(gpa, out).ok());
        return out;
    }
    bool untouched() const {
        for (std::uint8_t b : host.regions()[0].bytes) {
            if (b != kUntouched) return false;
        }
        return true;
    }
};

// A well-formed two-segment kernel-style image: text linked high, loaded low.
ElfBuilder elf64_kernel() {
    ElfBuilder b(true);
    b.entry(0xffff'ffff'8010'0010)
        .segment({0xffff'ffff'8010'0000, 0x100000, bytes(0x300, 1), 0, 5})
        .segment({0xffff'ffff'8010'2000, 0x102000, bytes(0x80, 2), 0x1000, 6});
    return b;
}

ElfBuilder elf32_simple() {
    ElfBuilder b(false);
    b.entry(0x180000).segment({0x180000, 0x180000, bytes(0x40, 3), 0x100, 7});
    return b;
}

void reject(const std::vector<std::uint8_t>& file, const std::string& message, std::uint64_t value) {
    Guest g;
    auto r = g.load(file);
    REQUIRE_FALSE(r.ok());
    CHECK(test::message(r.error()) == message);
    CHECK(r.error().value == value);
    CHECK(g.untouched());
}

void reject(const std::vector<std::uint8_t>& file, const std::string& message) {
    Guest g;
    auto r = g.load(file);
    REQUIRE_FALSE(r.ok());
    CHECK(test::message(r.error()) == message);
    CHECK_FALSE(r.error().has_value);
    CHECK(g.untouched());
}

}  // namespace

TEST_SUITE("elf_loader") {

TEST_CASE("ELF64: segments copied at their physical addresses, bss zeroed, entry translated") {
    Guest g;
    auto r = g.load(elf64_kernel().build());
    REQUIRE(r.ok());
    CHECK(r->elf_class == ElfClass::elf64);
    CHECK(r->entry_virtual == 0xffff'ffff'8010'0010);
    CHECK(r->entry == 0x100010);  // vaddr != paddr: translated through the segment
    CHECK(r->entry_segment_base == 0x100000);
    CHECK(r->lowest == 0x100000);
    CHECK(r->highest == 0x103000);
    CHECK(r->segments == 2);
    CHECK(g.read(0x100000, 0x300) == bytes(0x300, 1));
    CHECK(g.read(0x102000, 0x80) == bytes(0x80, 2));
    CHECK(g.read(0x102080, 0xf80) == std::vector<std::uint8_t>(0xf80, 0));
    // Nothing outside the segments is written: the gap between them and what follows.
    CHECK(g.read(0x100300, 0x1d00) == std::vector<std::uint8_t>(0x1d00, kUntouched));
    CHECK(g.read(0x103000, 0x10) == std::vector<std::uint8_t>(0x10, kUntouched));
    CHECK(g.read(0xfff0, 0x10) == std::vector<std::uint8_t>(0x10, kUntouched));
}

TEST_CASE("ELF32: loaded; non-PT_LOAD and empty segments are skipped, however odd") {
    ElfBuilder b(false);
    b.entry(0x180020)
        .segment({0, 0, bytes(0x10, 9), 0, 4, 4})  // PT_NOTE
        .segment({0x180000, 0x180000, bytes(0x40, 3), 0x100, 7})
        .segment({0x300000, 0x300000, {}, 0, 6});   // PT_LOAD with nothing in memory
    auto file = b.build();
    b.put_field(file, 0, ElfField::offset, 0xffff'0000);  // a note pointing nowhere is not loaded
    b.put_field(file, 2, ElfField::memsz, 0);
    Guest g;
    auto r = g.load(file);
    REQUIRE(r.ok());
    CHECK(r->elf_class == ElfClass::elf32);
    CHECK(r->entry == 0x180020);
    CHECK(r->entry_virtual == 0x180020);
    CHECK(r->segments == 1);
    CHECK(r->lowest == 0x180000);
    CHECK(r->highest == 0x180100);
    CHECK(g.read(0x180000, 0x40) == bytes(0x40, 3));
    CHECK(g.read(0x180040, 0xc0) == std::vector<std::uint8_t>(0xc0, 0));
    CHECK(g.read(0x180100, 1)[0] == kUntouched);
}

TEST_CASE("a segment across two host chunks of guest memory is copied piecewise") {
    test::VectorHostMemory host;
    host.add(0x4000'0000, 0x110000, kUntouched);
    host.add(0x5000'0000, 0x10000, kUntouched);
    GuestMemory memory(host);
    REQUIRE(memory.append(0x4000'0000, 0x110000).ok());
    REQUIRE(memory.append(0x5000'0000, 0x10000).ok());
    ElfBuilder b(true);
    b.entry(0x10f000).segment({0x10f000, 0x10f000, bytes(0x1800, 5), 0x2000, 5});
    auto r = load_elf(b.build(), memory, kReserved);
    REQUIRE(r.ok());
    auto expected = bytes(0x1800, 5);
    CHECK(host.byte(0x4010'f000) == expected[0]);
    CHECK(host.byte(0x4010'ffff) == expected[0xfff]);
    CHECK(host.byte(0x5000'0000) == expected[0x1000]);
    CHECK(host.byte(0x5000'07ff) == expected[0x17ff]);
    CHECK(host.byte(0x5000'0800) == 0);  // bss, in the second chunk
    CHECK(host.byte(0x5000'0fff) == 0);
    CHECK(host.byte(0x5000'1000) == kUntouched);
}

TEST_CASE("header: short files, bad magic, class, endianness, version, type, machine") {
    auto good64 = elf64_kernel().build();
    auto good32 = elf32_simple().build();
    reject({}, "elf: file is shorter than an ELF header", 0);
    reject({good64.begin(), good64.begin() + 51}, "elf: file is shorter than an ELF header", 51);
    reject({good64.begin(), good64.begin() + 60}, "elf: file is shorter than an ELF64 header", 60);
    for (std::size_t i = 0; i < 4; ++i) {
        auto f = good64;
        f[i] ^= 0x20;
        reject(f, "elf: not an ELF file (bad magic)");
    }
    for (std::uint8_t cls : {std::uint8_t{0}, std::uint8_t{3}, std::uint8_t{0xff}}) {
        auto f = good64;
        f[4] = cls;
        reject(f, "elf: unknown ELF class", cls);
    }
    auto big_endian = good64;
    big_endian[5] = 2;
    reject(big_endian, "elf: not little-endian");
    auto version = good32;
    version[6] = 0;
    reject(version, "elf: unknown ELF version", 0);
    auto dyn = good64;
    ElfBuilder::put(dyn, 16, 2, 3);  // ET_DYN
    reject(dyn, "elf: not an executable (e_type)", 3);
    auto machine64 = good64;
    ElfBuilder::put(machine64, 18, 2, 3);
    reject(machine64, "elf: ELF64 file is not for x86-64 (e_machine)", 3);
    auto machine32 = good32;
    ElfBuilder::put(machine32, 18, 2, 62);
    reject(machine32, "elf: ELF32 file is not for i386 (e_machine)", 62);
}

TEST_CASE("program header table: entry size, count, position") {
    auto f64 = elf64_kernel().build();
    auto f32 = elf32_simple().build();
    auto ph64 = f64;
    ElfBuilder::put(ph64, 54, 2, 32);
    reject(ph64, "elf: unexpected program header size", 32);
    auto ph32 = f32;
    ElfBuilder::put(ph32, 42, 2, 56);
    reject(ph32, "elf: unexpected program header size", 56);
    auto none = f64;
    ElfBuilder::put(none, 56, 2, 0);
    reject(none, "elf: no program headers");

    auto past = f64;
    ElfBuilder::put(past, 32, 8, f64.size() + 1);
    reject(past, "elf: program header table runs past the end of the file", f64.size() + 1);
    auto huge = f64;
    ElfBuilder::put(huge, 32, 8, 0xffff'ffff'ffff'ff00);
    reject(huge, "elf: program header table runs past the end of the file", 0xffff'ffff'ffff'ff00);
    auto count = f32;
    ElfBuilder::put(count, 44, 2, 0xffff);
    reject(count, "elf: program header table runs past the end of the file", 52);
    // The table may end exactly at the end of the file: move it there.
    auto tight = f32;
    ElfBuilder::put(tight, 28, 4, f32.size());
    tight.insert(tight.end(), f32.begin() + 52, f32.begin() + 52 + 32);
    Guest g;
    auto r = g.load(tight);
    REQUIRE(r.ok());
    CHECK(r->entry == 0x180000);
}

TEST_CASE("segments: data past the end, filesz > memsz, outside guest memory, address overflow") {
    ElfBuilder b = elf64_kernel();
    auto base = b.build();
    auto past = base;
    b.put_field(past, 1, ElfField::offset, base.size() - 0x40);
    reject(past, "elf: segment data runs past the end of the file", 1);
    auto far = base;
    b.put_field(far, 0, ElfField::offset, 0xffff'ffff'ffff'fff0);
    reject(far, "elf: segment data runs past the end of the file", 0);
    auto bigger = base;
    b.put_field(bigger, 1, ElfField::filesz, 0x1001);
    reject(bigger, "elf: segment file size exceeds its memory size", 1);

    auto outside = base;
    b.put_field(outside, 1, ElfField::paddr, kRamSize - 0x800);
    reject(outside, "elf: segment does not fit in guest memory; physical address", kRamSize - 0x800);
    auto beyond = base;
    b.put_field(beyond, 1, ElfField::paddr, 0x1'0000'0000);
    reject(beyond, "elf: segment does not fit in guest memory; physical address", 0x1'0000'0000);
    auto wraps = base;
    b.put_field(wraps, 1, ElfField::paddr, 0xffff'ffff'ffff'f800);
    reject(wraps, "elf: segment does not fit in guest memory; physical address", 0xffff'ffff'ffff'f800);
    // Up to the last byte of guest memory is fine.
    auto at_end = base;
    b.put_field(at_end, 1, ElfField::paddr, kRamSize - 0x1000);
    Guest g;
    REQUIRE(g.load(at_end).ok());
    CHECK(g.read(kRamSize - 1, 1)[0] == 0);
}

TEST_CASE("segments: overlapping each other or the reserved boot-data range") {
    ElfBuilder b = elf64_kernel();
    auto base = b.build();
    auto overlap = base;
    b.put_field(overlap, 1, ElfField::paddr, 0x1002ff);  // the last byte of the text segment
    reject(overlap, "elf: segments overlap; physical address", 0x1002ff);
    auto bss_overlap = base;
    b.put_field(bss_overlap, 0, ElfField::memsz, 0x2001);  // text's bss reaches the data segment
    reject(bss_overlap, "elf: segments overlap; physical address", 0x102000);

    ElfBuilder low(true);
    low.entry(0x0).segment({0, 0, bytes(0x20, 4), 0x1000, 5});
    Guest g;
    REQUIRE(g.load(low.build()).ok());  // [0, 0x1000) touches the reserved range, no overlap
    auto into_start = low.build();
    low.put_field(into_start, 0, ElfField::memsz, 0x1001);
    reject(into_start, "elf: segment overlaps memory tandem reserves for boot data; physical address", 0);
    auto inside = low.build();
    low.put_field(inside, 0, ElfField::paddr, 0x8000);
    reject(inside, "elf: segment overlaps memory tandem reserves for boot data; physical address", 0x8000);
    auto into_end = low.build();
    low.put_field(into_end, 0, ElfField::paddr, 0xf800);
    reject(into_end, "elf: segment overlaps memory tandem reserves for boot data; physical address", 0xf800);
    auto after = low.build();
    low.put_field(after, 0, ElfField::paddr, 0x10000);
    Guest g2;
    CHECK(g2.load(after).ok());
}

TEST_CASE("entry point: inside an executable segment's file part") {
    auto outside = elf64_kernel().entry(0xffff'ffff'8030'0000).build();
    reject(outside, "elf: entry point is not inside a loaded segment", 0xffff'ffff'8030'0000);
    auto physical = elf64_kernel().entry(0x100010).build();  // the physical address is not the entry
    reject(physical, "elf: entry point is not inside a loaded segment", 0x100010);
    auto in_bss = elf64_kernel().entry(0xffff'ffff'8010'2100).build();
    reject(in_bss, "elf: entry point is not inside a loaded segment", 0xffff'ffff'8010'2100);
    auto in_data = elf64_kernel().entry(0xffff'ffff'8010'2010).build();
    reject(in_data, "elf: entry point is in a non-executable segment", 0xffff'ffff'8010'2010);
    ElfBuilder b = elf32_simple();
    auto rw = b.build();
    b.put_field(rw, 0, ElfField::flags, 6);
    reject(rw, "elf: entry point is in a non-executable segment", 0x180000);
}

TEST_CASE("no loadable segment; at most 32 loadable segments") {
    ElfBuilder notes(true);
    notes.entry(0x100000).segment({0x100000, 0x100000, bytes(0x10, 1), 0, 5, 4});
    reject(notes.build(), "elf: no loadable segment");
    ElfBuilder empty(true);
    empty.entry(0x100000).segment({0x100000, 0x100000, {}, 0, 5});
    auto f = empty.build();
    empty.put_field(f, 0, ElfField::memsz, 0);
    reject(f, "elf: no loadable segment");

    auto many = [](unsigned n) {
        ElfBuilder b(true);
        b.entry(0x100000);
        for (unsigned i = 0; i < n; ++i) {
            b.segment(
                {0x100000 + 0x1000ull * i, 0x100000 + 0x1000ull * i, bytes(0x10, static_cast<std::uint8_t>(i)), 0, 5});
        }
        return b.build();
    };
    Guest g;
    auto ok = g.load(many(32));
    REQUIRE(ok.ok());
    CHECK(ok->segments == 32);
    CHECK(g.read(0x100000 + 0x1000 * 31, 0x10) == bytes(0x10, 31));
    reject(many(33), "elf: too many loadable segments", 32);
}

TEST_CASE("a bad segment after good ones: nothing is copied") {
    ElfBuilder b = elf64_kernel();
    b.segment({0xffff'ffff'8020'0000, 0x200000 - 0x100, bytes(0x200, 8), 0, 6});
    auto f = b.build();
    b.put_field(f, 2, ElfField::paddr, kRamSize);  // the third segment lies past guest memory
    reject(f, "elf: segment does not fit in guest memory; physical address", kRamSize);
}

}  // TEST_SUITE
