// Guest-linear to guest-physical translation through the guest's own page tables
// (arch-x86_64/vmx/guest_page_walk.hpp) for each paging mode (Intel SDM Vol. 3A §5.3-§5.5):
// paging off, 32-bit paging with and without PSE, PAE, and 4-level paging with 4 KiB, 2 MiB and
// 1 GiB pages; missing entries and tables outside guest RAM are errors naming the address.
#include <doctest/doctest.h>

#include "arch-x86_64/vmx/guest_page_walk.hpp"
#include "helpers.hpp"
#include "vmx_fake_host_memory.hpp"

using namespace tandem;
using namespace tandem::x86;

namespace {

constexpr std::uint64_t kPg = 1ull << 31, kPe = 1;
constexpr std::uint64_t kPse = 1ull << 4, kPae = 1ull << 5, kLa57 = 1ull << 12;
constexpr std::uint64_t kLma = 1ull << 10, kLme = 1ull << 8, kNxe = 1ull << 11;
constexpr std::uint64_t kP = 1, kRw = 2, kPs = 1ull << 7, kNx = 1ull << 63, kPatLarge = 1ull << 12;

struct Guest {
    test::VectorHostMemory host{0x4000'0000, 1u << 20};
    GuestMemory memory{host};
    Guest() { REQUIRE(memory.append(0x4000'0000, 1u << 20).ok()); }
    void put64(std::uint64_t gpa, std::uint64_t v) { REQUIRE(memory.store(gpa, v).ok()); }
    void put32(std::uint64_t gpa, std::uint32_t v) { REQUIRE(memory.store(gpa, v).ok()); }
};

std::uint64_t walk_ok(const Guest& g, const GuestPagingState& s, std::uint64_t linear) {
    auto r = guest_linear_to_physical(g.memory, s, linear);
    REQUIRE(r.ok());
    return *r;
}

void walk_fails(const Guest& g, const GuestPagingState& s, std::uint64_t linear, const char* message,
                std::uint64_t value) {
    auto r = guest_linear_to_physical(g.memory, s, linear);
    REQUIRE_FALSE(r.ok());
    CHECK(test::message(r.error()) == message);
    CHECK(r.error().value == value);
}

constexpr const char* kNotPresent = "guest page walk: not present at linear address";
constexpr const char* kReserved = "guest page walk: reserved bit set at linear address";

constexpr std::uint64_t la48(std::uint64_t pml4, std::uint64_t pdpt, std::uint64_t pd, std::uint64_t pt,
                             std::uint64_t offset) {
    return pml4 << 39 | pdpt << 30 | pd << 21 | pt << 12 | offset;
}

}  // namespace

TEST_SUITE("guest_page_walk") {

TEST_CASE("paging off: linear is physical, truncated to 32 bits") {
    Guest g;
    GuestPagingState real{0x10, 0, 0, 0}, prot{0x11, 0x5000, kPae, 0};
    CHECK(walk_ok(g, real, 0xf'0100) == 0xf'0100);
    CHECK(walk_ok(g, prot, 0x1'2345'6789) == 0x2345'6789);
    CHECK(walk_ok(g, prot, 0xffff'ffff'ffff'ffff) == 0xffff'ffff);  // no table is read
}

TEST_CASE("4-level paging: 4 KiB, 2 MiB and 1 GiB pages; NX and PAT bits are not address bits") {
    Guest g;
    GuestPagingState s{kPg | kPe, 0x10000 | 0x18 /* PWT, PCD */, kPae, kLme | kLma | kNxe};
    g.put64(0x10000 + 8 * 3, 0x11000 | kP | kRw);
    g.put64(0x11000 + 8 * 5, 0x12000 | kP | kRw);
    g.put64(0x12000 + 8 * 7, 0x13000 | kP | kRw);
    g.put64(0x13000 + 8 * 9, 0x55000 | kP | kNx);
    g.put64(0x12000 + 8 * 8, 0x40'0000 | kPatLarge | kP | kPs);
    g.put64(0x11000 + 8 * 6, 0x4000'0000 | kPatLarge | kP | kPs | kNx);
    CHECK(walk_ok(g, s, la48(3, 5, 7, 9, 0x123)) == 0x55123);
    CHECK(walk_ok(g, s, la48(3, 5, 8, 0, 0x12345)) == 0x41'2345);
    CHECK(walk_ok(g, s, la48(3, 5, 8, 0x1ff, 0xfff)) == 0x5f'ffff);
    CHECK(walk_ok(g, s, la48(3, 6, 0x91, 0xa2, 0x567)) == 0x4000'0000 + (0x91ull << 21 | 0xa2 << 12 | 0x567));
    // Canonical upper-half addresses use bits 47:39 only.
    CHECK(walk_ok(g, s, 0xffff'0000'0000'0000ull | la48(3, 5, 7, 9, 0x1)) == 0x55001);

    walk_fails(g, s, la48(4, 0, 0, 0, 0), kNotPresent, la48(4, 0, 0, 0, 0));
    walk_fails(g, s, la48(3, 9, 0, 0, 0x10), kNotPresent, la48(3, 9, 0, 0, 0x10));
    walk_fails(g, s, la48(3, 5, 10, 0, 0), kNotPresent, la48(3, 5, 10, 0, 0));
    walk_fails(g, s, la48(3, 5, 7, 11, 0), kNotPresent, la48(3, 5, 7, 11, 0));
    // An entry with only bits other than P set is not present either.
    g.put64(0x13000 + 8 * 12, 0x66000 | kRw);
    walk_fails(g, s, la48(3, 5, 7, 12, 0), kNotPresent, la48(3, 5, 7, 12, 0));
    // A table outside guest RAM.
    g.put64(0x12000 + 8 * 20, 0x200'0000 | kP);
    walk_fails(g, s, la48(3, 5, 20, 0, 0), "guest memory: access outside guest RAM", la48(3, 5, 20, 0, 0));
    GuestPagingState far{kPg | kPe, 0x8000'0000, kPae, kLme | kLma};
    walk_fails(g, far, 0x1000, "guest memory: access outside guest RAM", 0x1000);

    GuestPagingState five = s;
    five.cr4 |= kLa57;
    walk_fails(g, five, 0x1000, "guest page walk: 5-level paging is not supported", 0);
}

TEST_CASE("PAE paging: the 32-byte aligned PDPT, 4 KiB and 2 MiB pages") {
    Guest g;
    GuestPagingState s{kPg | kPe, 0x20020 | 0x18, kPae, kNxe};  // PDPT at 0x20020, PWT/PCD ignored
    g.put64(0x20020 + 8 * 2, 0x21000 | kP);
    g.put64(0x21000 + 8 * 3, 0x22000 | kP | kRw);
    g.put64(0x22000 + 8 * 4, 0x66000 | kP | kNx);
    g.put64(0x21000 + 8 * 5, 0x80'0000 | kPatLarge | kP | kPs);
    CHECK(walk_ok(g, s, 2ull << 30 | 3 << 21 | 4 << 12 | 0xabc) == 0x66abc);
    CHECK(walk_ok(g, s, 2ull << 30 | 5 << 21 | 0x5'4321) == 0x85'4321);
    CHECK(walk_ok(g, s, 1ull << 32 | 2ull << 30 | 3 << 21 | 4 << 12) == 0x66000);  // 32-bit linear addresses
    walk_fails(g, s, 3ull << 30, kNotPresent, 3ull << 30);
    walk_fails(g, s, 2ull << 30 | 6 << 21, kNotPresent, 2ull << 30 | 6 << 21);
    walk_fails(g, s, 2ull << 30 | 3 << 21 | 5 << 12, kNotPresent, 2ull << 30 | 3 << 21 | 5 << 12);
}

TEST_CASE("32-bit paging: 4-byte entries, 4 MiB pages only with CR4.PSE") {
    Guest g;
    GuestPagingState s{kPg | kPe, 0x30000 | 0x18, 0, 0};
    g.put32(0x30000 + 4 * 0x12, 0x31000 | kP | kRw);
    g.put32(0x31000 + 4 * 0x34, 0x77000 | kP);
    g.put32(0x30000 + 4 * 0x13, 0x40'0000 | kP | kPs);
    // The upper half of a 4-byte entry must not be taken for part of the entry.
    g.put32(0x30000 + 4 * 0x14, 0x32000 | kP);
    g.put32(0x32000 + 4 * 0x1, 0x78000 | kP);
    g.put32(0x32000 + 4 * 0x2, 0xdead'b000);  // not present
    CHECK(walk_ok(g, s, 0x12ull << 22 | 0x34 << 12 | 0x567) == 0x77567);
    CHECK(walk_ok(g, s, 0x14ull << 22 | 0x1 << 12 | 0x2) == 0x78002);
    walk_fails(g, s, 0x14ull << 22 | 0x2 << 12, kNotPresent, 0x14ull << 22 | 0x2 << 12);
    walk_fails(g, s, 0x15ull << 22, kNotPresent, 0x15ull << 22);

    GuestPagingState pse = s;
    pse.cr4 = kPse;
    CHECK(walk_ok(g, pse, 0x13ull << 22 | 0x12'3456) == 0x52'3456);
    CHECK(walk_ok(g, pse, 0x12ull << 22 | 0x34 << 12 | 0x567) == 0x77567);
    // Without PSE the PS bit means nothing: 0x400000 is taken as a page table, past guest RAM.
    walk_fails(g, s, 0x13ull << 22 | 0x12'3456, kNotPresent, 0x13ull << 22 | 0x12'3456);
}

TEST_CASE("reserved bits: PS in a PML4E, address bits under a large page, XD without EFER.NXE, PAE PDPTE bits") {
    Guest g;
    // 4-level tables as above: PML4 0x10000 -> PDPT 0x11000 -> PD 0x12000 -> PT 0x13000.
    GuestPagingState s{kPg | kPe, 0x10000, kPae, kLme | kLma};
    g.put64(0x10000 + 8 * 3, 0x11000 | kP | kRw);
    g.put64(0x11000 + 8 * 5, 0x12000 | kP | kRw);
    g.put64(0x12000 + 8 * 7, 0x13000 | kP | kRw);
    g.put64(0x13000 + 8 * 9, 0x55000 | kP);
    CHECK(walk_ok(g, s, la48(3, 5, 7, 9, 0x10)) == 0x55010);

    // XD is reserved while EFER.NXE is clear, at every level; with NXE it is the no-execute bit.
    g.put64(0x13000 + 8 * 10, 0x56000 | kP | kNx);
    walk_fails(g, s, la48(3, 5, 7, 10, 0), kReserved, la48(3, 5, 7, 10, 0));
    GuestPagingState nxe = s;
    nxe.efer |= kNxe;
    CHECK(walk_ok(g, nxe, la48(3, 5, 7, 10, 0x20)) == 0x56020);
    g.put64(0x10000 + 8 * 4, 0x11000 | kP | kNx);
    walk_fails(g, s, la48(4, 5, 7, 9, 0), kReserved, la48(4, 5, 7, 9, 0));
    CHECK(walk_ok(g, nxe, la48(4, 5, 7, 9, 0x30)) == 0x55030);

    // PS is reserved in a PML4E (there are no 512 GiB pages).
    g.put64(0x10000 + 8 * 5, 0x11000 | kP | kPs);
    walk_fails(g, s, la48(5, 5, 7, 9, 0), kReserved, la48(5, 5, 7, 9, 0));

    // A 2 MiB page's bits 20:13 and a 1 GiB page's bits 29:13 are reserved; bit 12 is PAT.
    g.put64(0x12000 + 8 * 8, 0x40'0000 | kPatLarge | kP | kPs);
    CHECK(walk_ok(g, s, la48(3, 5, 8, 1, 2)) == 0x40'1002);
    g.put64(0x12000 + 8 * 9, 0x40'0000 | (1ull << 13) | kP | kPs);
    walk_fails(g, s, la48(3, 5, 9, 0, 0), kReserved, la48(3, 5, 9, 0, 0));
    g.put64(0x12000 + 8 * 10, 0x40'0000 | (1ull << 20) | kP | kPs);
    walk_fails(g, s, la48(3, 5, 10, 0, 0), kReserved, la48(3, 5, 10, 0, 0));
    g.put64(0x11000 + 8 * 6, 0x4000'0000 | kPatLarge | kP | kPs);
    CHECK(walk_ok(g, s, la48(3, 6, 1, 2, 3)) == 0x4020'2003);
    g.put64(0x11000 + 8 * 7, 0x4000'0000 | (1ull << 29) | kP | kPs);
    walk_fails(g, s, la48(3, 7, 0, 0, 0), kReserved, la48(3, 7, 0, 0, 0));
    g.put64(0x11000 + 8 * 8, 0x4000'0000 | (1ull << 13) | kP | kPs);
    walk_fails(g, s, la48(3, 8, 0, 0, 0), kReserved, la48(3, 8, 0, 0, 0));
    // Bits the entry formats leave to software (11:9, 62:52) are not reserved.
    g.put64(0x13000 + 8 * 11, 0x57000 | 0x0e00 | (0x7ffull << 52) | kP);
    CHECK(walk_ok(g, s, la48(3, 5, 7, 11, 0x40)) == 0x57040);

    // PAE: a PDPTE's bits 2:1 and 8:5 and 63 are reserved; XD in a PDE or PTE without NXE too.
    GuestPagingState pae{kPg | kPe, 0x20000, kPae, 0};
    g.put64(0x20000, 0x21000 | kP);
    g.put64(0x21000, 0x22000 | kP | kRw);
    g.put64(0x22000, 0x66000 | kP);
    g.put64(0x22000 + 8, 0x67000 | kP | kNx);
    CHECK(walk_ok(g, pae, 0x123) == 0x66123);
    walk_fails(g, pae, 0x1000, kReserved, 0x1000);
    GuestPagingState pae_nxe = pae;
    pae_nxe.efer = kNxe;
    CHECK(walk_ok(g, pae_nxe, 0x1004) == 0x67004);
    for (std::uint64_t bit : {std::uint64_t{1} << 1, std::uint64_t{1} << 2, std::uint64_t{1} << 5, std::uint64_t{1} << 8, kNx}) {
        CAPTURE(bit);
        g.put64(0x20000 + 8, 0x21000 | kP | bit);
        walk_fails(g, pae_nxe, 1ull << 30, kReserved, 1ull << 30);
    }
    g.put64(0x21000 + 8, 0x20'0000 | (1ull << 13) | kP | kPs);  // a 2 MiB page with bit 13
    walk_fails(g, pae, 1ull << 21, kReserved, 1ull << 21);
}

TEST_CASE("32-bit paging: a 4 MiB page's bits 20:13 are physical-address bits 39:32 (PSE-36), bit 21 is reserved") {
    Guest g;
    GuestPagingState pse{kPg | kPe, 0x30000, kPse, 0};
    g.put32(0x30000 + 4 * 1, 0x0040'0000 | (0x12u << 13) | kP | kPs);  // 4 MiB page at 0x12'0040'0000
    CHECK(walk_ok(g, pse, 1ull << 22 | 0x3'4567) == 0x12'0043'4567ull);
    g.put32(0x30000 + 4 * 2, 0x0040'0000 | (1u << 21) | kP | kPs);
    walk_fails(g, pse, 2ull << 22, kReserved, 2ull << 22);
}

}  // TEST_SUITE
