// The Linux x86 boot protocol (guest-boot/linux_boot.hpp), 64-bit entry: the GDT and the identity
// page tables, walked as the guest's MMU would, and the GDT against the segments tandem's entry
// state loads (linux_boot_fixture.hpp).
#include <doctest/doctest.h>

#include <cstdint>
#include <string>

#include "arch-x86_64/vmx/guest_entry.hpp"
#include "arch-x86_64/vmx/guest_page_walk.hpp"
#include "guest-boot/linux_boot.hpp"
#include "helpers.hpp"
#include "linux_boot_fixture.hpp"
#include "vmx_fake_msrs.hpp"
#include "vmx_fake_vmcs.hpp"

using namespace tandem;
using namespace tandem::guest_boot;
using namespace tandem::guest_boot::linux_boot;
using namespace linux_boot_test;

namespace {

x86::GuestPagingState long_mode(std::uint64_t cr3) { return {0x8001'0033, cr3, 0x20, 0x500}; }

}  // namespace

TEST_SUITE("linux_boot") {

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

}  // TEST_SUITE
