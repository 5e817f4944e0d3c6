// Boot data for bare-metal test guests (guest-boot/test_guest_boot.hpp, test_guest_abi.hpp):
// the GDT (and that it agrees with the segment state tandem enters the guest with), the
// command line, and the 4 GiB identity map for 64-bit entry, read back through the guest page
// walker.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "arch-x86_64/vmx/guest_entry.hpp"
#include "arch-x86_64/vmx/guest_page_walk.hpp"
#include "guest-boot/test_guest_abi.hpp"
#include "guest-boot/test_guest_boot.hpp"
#include "helpers.hpp"
#include "vmx_fake_host_memory.hpp"
#include "vmx_fake_msrs.hpp"
#include "vmx_fake_vmcs.hpp"

using namespace tandem;
using namespace tandem::x86;
using guest_boot::EntryMode;
namespace abi = tandem::guest_abi;

namespace {

constexpr std::uint64_t kHost = 0x2000'0000;
constexpr std::uint64_t kRam = 2ull << 20;

struct Guest {
    test::VectorHostMemory host{kHost, kRam, 0xee};
    GuestMemory memory{host};
    Guest() { REQUIRE(memory.append(kHost, kRam).ok()); }
    std::uint64_t q(std::uint64_t gpa) const { return *memory.load<std::uint64_t>(gpa); }
    std::uint8_t b(std::uint64_t gpa) const { return *memory.load<std::uint8_t>(gpa); }
};

// What loading a selector from this GDT puts in the VMCS (SDM Vol. 3C §25.4.1, Table 25-2):
// access byte and flags nibble as access rights with the accessed bit set, the limit scaled
// by G.
struct Loaded {
    std::uint64_t base;
    std::uint32_t limit, access;
};
Loaded load_descriptor(std::uint64_t d) {
    std::uint64_t base = ((d >> 16) & 0xffffff) | (((d >> 56) & 0xff) << 24);
    auto limit = static_cast<std::uint32_t>((d & 0xffff) | (((d >> 48) & 0xf) << 16));
    auto access = static_cast<std::uint32_t>((d >> 40) & 0xf0ff);
    if (access & 0x10) access |= 1;  // code/data: the CPU sets the accessed bit on load
    if (access & 0x8000) limit = (limit << 12) | 0xfff;
    return {base, limit, access};
}

GuestPagingState long_mode(std::uint64_t cr3) { return {0x8001'0033, cr3, 0x20, 0x500}; }

}  // namespace

TEST_SUITE("guest_boot") {

TEST_CASE("GDT, command line and the reserved range") {
    Guest g;
    REQUIRE(guest_boot::write_test_guest_boot_data(g.memory, "pages=3 pattern=0x77", EntryMode::long64).ok());
    const std::uint64_t gdt[] = {0, 0x00cf9a000000ffffull, 0x00af9a000000ffffull, 0x00cf92000000ffffull,
                                 0x00008b0000000067ull};
    for (unsigned i = 0; i < 5; ++i) CHECK(g.q(abi::kGdt + 8 * i) == gdt[i]);
    std::string cmdline;
    for (std::uint64_t a = abi::kCommandLine; g.b(a) != 0; ++a) cmdline += static_cast<char>(g.b(a));
    CHECK(cmdline == "pages=3 pattern=0x77");
    // Everything else in the reserved range is cleared; around it nothing is touched.
    for (std::uint64_t a = abi::kGdt + 40; a < abi::kCommandLine; ++a) REQUIRE(g.b(a) == 0);
    for (std::uint64_t a = abi::kCommandLine + cmdline.size(); a < abi::kPageTables; ++a) REQUIRE(g.b(a) == 0);
    for (std::uint64_t a = abi::kPageTablesEnd; a < abi::kReservedEnd; ++a) REQUIRE(g.b(a) == 0);
    CHECK(g.b(abi::kReservedStart - 1) == 0xee);
    CHECK(g.b(abi::kReservedEnd) == 0xee);
}

TEST_CASE("the GDT describes exactly the segments the guest is entered with") {
    Guest g;
    REQUIRE(guest_boot::write_test_guest_boot_data(g.memory, "", EntryMode::long64).ok());
    for (EntryMode mode : {EntryMode::protected32, EntryMode::long64}) {
        CAPTURE(guest_boot::entry_mode_name(mode));
        test::FakeVmcs v;
        GuestRegisters regs{};
        CrPolicy cr = cr_policy(test::bochs_msrs("corei7_skylake_x"));
        write_guest_entry_state(v, regs, GuestEntry{mode, 0x100000}, cr);
        struct Seg {
            VmcsField selector, base, limit, access;
        };
        const Seg segments[] = {
            {vmcs::guest_cs_selector, vmcs::guest_cs_base, vmcs::guest_cs_limit, vmcs::guest_cs_access},
            {vmcs::guest_ss_selector, vmcs::guest_ss_base, vmcs::guest_ss_limit, vmcs::guest_ss_access},
            {vmcs::guest_ds_selector, vmcs::guest_ds_base, vmcs::guest_ds_limit, vmcs::guest_ds_access},
            {vmcs::guest_tr_selector, vmcs::guest_tr_base, vmcs::guest_tr_limit, vmcs::guest_tr_access}};
        for (const Seg& s : segments) {
            std::uint64_t selector = v.read(s.selector);
            CAPTURE(selector);
            REQUIRE(selector + 8 <= v.read(vmcs::guest_gdtr_limit) + 1);
            Loaded d = load_descriptor(g.q(v.read(vmcs::guest_gdtr_base) + (selector & ~7ull)));
            CHECK(d.base == v.read(s.base));
            CHECK(d.limit == v.read(s.limit));
            CHECK(d.access == v.read(s.access));
        }
    }
}

TEST_CASE("64-bit entry: the first 4 GiB identity-mapped with 2 MiB pages, nothing above") {
    Guest g;
    REQUIRE(guest_boot::write_test_guest_boot_data(g.memory, "x", EntryMode::long64).ok());
    CHECK((g.q(abi::kPageTables) & ~0xfffull) == abi::kPageTables + 0x1000);
    for (std::uint64_t linear : {0x0ull, 0x1234ull, 0x1f'ffffull, 0x20'0000ull, 0x10'0010ull, 0x1234'5678ull,
                                 0x8000'0000ull, 0xc020'1234ull, 0xffff'f000ull, 0xffff'ffffull}) {
        CAPTURE(linear);
        auto gpa = guest_linear_to_physical(g.memory, long_mode(abi::kPageTables), linear);
        REQUIRE(gpa.ok());
        CHECK(*gpa == linear);
    }
    for (std::uint64_t pd = 0; pd < 2048; ++pd) {
        std::uint64_t e = g.q(abi::kPageTables + 0x2000 + 8 * pd);
        if ((e & 0x000f'ffff'ffe0'0000ull) != pd << 21 || (e & 0x83) != 0x83) FAIL_CHECK("PD entry " << pd);
    }
    for (std::uint64_t linear : {0x1'0000'0000ull, 0x7f'ffff'f000ull, 0x8000'0000'0000ull}) {
        auto gpa = guest_linear_to_physical(g.memory, long_mode(abi::kPageTables), linear);
        REQUIRE_FALSE(gpa.ok());
        CHECK(test::message(gpa.error()) == "guest page walk: not present at linear address");
        CHECK(gpa.error().value == linear);
    }
}

TEST_CASE("real and protected mode get no page tables; errors for long command lines and tiny RAM") {
    for (EntryMode mode : {EntryMode::real16, EntryMode::protected32}) {
        Guest g;
        REQUIRE(guest_boot::write_test_guest_boot_data(g.memory, "a b", mode).ok());
        for (std::uint64_t a = abi::kPageTables; a < abi::kPageTablesEnd; a += 8) REQUIRE(g.q(a) == 0);
        CHECK(g.q(abi::kGdt + 8) == 0x00cf9a000000ffffull);
        CHECK(g.b(abi::kCommandLine + 1) == ' ');
    }
    Guest g;
    auto too_long =
        guest_boot::write_test_guest_boot_data(g.memory, std::string(abi::kCommandLineMax, 'x'), EntryMode::long64);
    REQUIRE_FALSE(too_long.ok());
    CHECK(test::message(too_long.error()) == "test guest: command line longer than the guest's buffer");
    CHECK(too_long.error().value == abi::kCommandLineMax);
    CHECK(g.b(abi::kCommandLine) == 0xee);  // refused before anything was written
    std::string longest(abi::kCommandLineMax - 1, 'y');
    REQUIRE(guest_boot::write_test_guest_boot_data(g.memory, longest, EntryMode::long64).ok());
    CHECK(g.b(abi::kCommandLine + longest.size() - 1) == 'y');
    CHECK(g.b(abi::kCommandLine + longest.size()) == 0);

    test::VectorHostMemory small_host(kHost, 0xf000);
    GuestMemory small(small_host);
    REQUIRE(small.append(kHost, 0xf000).ok());
    auto s = guest_boot::write_test_guest_boot_data(small, "", EntryMode::real16);
    REQUIRE_FALSE(s.ok());
    CHECK(test::message(s.error()) == "test guest: guest memory too small for boot data");
    CHECK(guest_boot::write_test_guest_boot_data(g.memory, "", EntryMode::real16).ok());
    CHECK(std::string(guest_boot::entry_mode_name(EntryMode::real16)) == "real mode");
    CHECK(std::string(guest_boot::entry_mode_name(EntryMode::protected32)) == "32-bit protected mode");
    CHECK(std::string(guest_boot::entry_mode_name(EntryMode::long64)) == "64-bit long mode");
}

}  // TEST_SUITE
