// What CPUID tells the guest (arch-x86_64/vmx/cpuid_policy.hpp), leaf by leaf, from a
// Skylake-X-like host table (vmx_fake_platform.hpp). Expected values are the host's with the
// bits the policy hides cleared by hand (SDM Vol. 2A, CPUID, Tables 3-8, 3-10, 3-11).
#include <doctest/doctest.h>

#include "arch-x86_64/vmx/cpuid_policy.hpp"
#include "vmx_fake_platform.hpp"

using namespace tandem::x86;
using test::FakePlatform;

namespace {

constexpr std::uint64_t kCr4OsXsave = 1ull << 18;

struct Expect {
    std::uint32_t eax, ebx, ecx, edx;
};

void check(const CpuidValues& v, const Expect& e) {
    CHECK(v.eax == e.eax);
    CHECK(v.ebx == e.ebx);
    CHECK(v.ecx == e.ecx);
    CHECK(v.edx == e.edx);
}

CpuidPolicy full_policy() {
    CpuidPolicy p;
    p.tsc_khz = 2'000'000;
    p.rdtscp = true;
    p.invpcid = true;
    p.xsaves = true;
    return p;
}

}  // namespace

TEST_SUITE("cpuid_policy") {

TEST_CASE("leaf 1: VMX, SMX, monitoring, APIC and topology hidden; hypervisor bit set; OSXSAVE mirrors CR4") {
    FakePlatform host;
    CpuidPolicy p = full_policy();
    check(guest_cpuid(host, p, 1, 0, 0), {0x00050654, 0x00010800, 0xf6da7217, 0x0f8ba97f});
    check(guest_cpuid(host, p, 1, 0, kCr4OsXsave), {0x00050654, 0x00010800, 0xfeda7217, 0x0f8ba97f});
    // Without XSAVE on the host, CR4.OSXSAVE cannot make it appear.
    host.table[{1, 0}].ecx &= ~(1u << 26);
    CpuidValues v = guest_cpuid(host, p, 1, 0, kCr4OsXsave);
    CHECK((v.ecx & (1u << 27)) == 0);
    CHECK((v.ecx & (1u << 26)) == 0);
    // The hypervisor bit is set whatever the host says; the leaf ignores the subleaf.
    CHECK(guest_cpuid(host, p, 1, 7, 0).ecx == (guest_cpuid(host, p, 1, 0, 0).ecx));
    CHECK((guest_cpuid(host, p, 1, 0, 0).ecx >> 31) == 1);
}

TEST_CASE("leaves 0, 2 and the brand string pass through; 4 drops the sharing counts") {
    FakePlatform host;
    CpuidPolicy p = full_policy();
    check(guest_cpuid(host, p, 0, 0, 0), {0x16, 0x756e6547, 0x6c65746e, 0x49656e69});
    check(guest_cpuid(host, p, 2, 0, 0), {0x76036301, 0x00f0b5ff, 0, 0x00c30000});
    for (std::uint32_t leaf : {0x80000000u, 0x80000002u, 0x80000003u, 0x80000004u, 0x80000006u, 0x80000008u}) {
        CAPTURE(leaf);
        CpuidValues h = host.cpuid(leaf, 0);
        check(guest_cpuid(host, p, leaf, 0, 0), {h.eax, h.ebx, h.ecx, h.edx});
    }
    check(guest_cpuid(host, p, 4, 0, 0), {0x121, 0x01c0003f, 0x3f, 0});
    check(guest_cpuid(host, p, 4, 3, 0), {0x163, 0x0280003f, 0x2fff, 0x4});
    check(guest_cpuid(host, p, 4, 2, 0), {0, 0, 0, 0});  // no such cache level on the host
}

TEST_CASE("leaf 7: TSC_ADJUST shown (reads 0); SGX, RDT, MPX, PT, WAITPKG, PKS hidden; speculation controls as the plan says") {
    FakePlatform host;
    CpuidPolicy p = full_policy();
    // MD_CLEAR (EDX[10]) and the other speculation controls only as speculation.hpp's plan gives
    // them (test_speculation.cpp): none by default.
    check(guest_cpuid(host, p, 7, 0, 0), {0, 0xd19f2ffb, 0x8, 0});
    p.leaf7_edx_speculation = 0x400;
    check(guest_cpuid(host, p, 7, 0, 0), {0, 0xd19f2ffb, 0x8, 0x400});
    p.invpcid = false;
    check(guest_cpuid(host, p, 7, 0, 0), {0, 0xd19f2bfb, 0x8, 0x400});
    check(guest_cpuid(host, p, 7, 1, 0), {0, 0, 0, 0});  // further subleaves are not offered
    host.table[{7, 0}].eax = 2;                          // even if the host has them
    CHECK(guest_cpuid(host, p, 7, 0, 0).eax == 0);
}

TEST_CASE("leaf 0xd: XSAVES only when enabled; extended leaves: SVM, RDTSCP, invariant TSC") {
    FakePlatform host;
    CpuidPolicy p = full_policy();
    // MPX is hidden (leaf 7), so its XSAVE components (bits 3 and 4) are too.
    check(guest_cpuid(host, p, 0xd, 0, 0), {0x2e7, 0xa88, 0xa88, 0});
    check(guest_cpuid(host, p, 0xd, 1, 0), {0xf, 0, 0, 0});
    check(guest_cpuid(host, p, 0xd, 2, 0), {0x100, 0x240, 0, 0});
    check(guest_cpuid(host, p, 0x80000001, 0, 0), {0, 0, 0x121, 0x2c100800});
    check(guest_cpuid(host, p, 0x80000007, 0, 0), {0, 0, 0, 0x100});
    p.xsaves = false;
    p.rdtscp = false;
    check(guest_cpuid(host, p, 0xd, 1, 0), {0x7, 0, 0, 0});
    check(guest_cpuid(host, p, 0x80000001, 0, 0), {0, 0, 0x121, 0x24100800});
}

TEST_CASE("hypervisor leaves: signature, TSC frequency, the rest of the range zero") {
    FakePlatform host;
    CpuidPolicy p = full_policy();
    check(guest_cpuid(host, p, 0x40000000, 0, 0), {0x40000010, 0x646e6154, 0x79486d65, 0x56726570});
    check(guest_cpuid(host, p, 0x40000010, 0, 0), {2'000'000, 0, 0, 0});
    p.tsc_khz = 0;  // not calibrated: says so
    check(guest_cpuid(host, p, 0x40000010, 0, 0), {0, 0, 0, 0});
    for (std::uint32_t leaf : {0x40000001u, 0x40000003u, 0x4000000fu, 0x40000011u, 0x400000ffu}) {
        check(guest_cpuid(host, p, leaf, 0, 0), {0, 0, 0, 0});
    }
    unsigned calls = host.cpuid_calls();
    (void)guest_cpuid(host, p, 0x40000000, 0, 0);
    CHECK(host.cpuid_calls() == calls);  // answered without asking the host
}

TEST_CASE("hidden leaves and leaves past the host's maximum are all zero") {
    FakePlatform host;
    CpuidPolicy p = full_policy();
    // The host answers these with non-zero values; the guest must see none of them.
    for (std::uint32_t leaf : {0x3u, 0x5u, 0x6u, 0xau, 0xbu, 0x14u, 0x16u}) {
        CAPTURE(leaf);
        CpuidValues h = host.cpuid(leaf, 0);
        CHECK((h.eax | h.ebx | h.ecx | h.edx) != 0);
        check(guest_cpuid(host, p, leaf, 0, 0), {0, 0, 0, 0});
    }
    for (std::uint32_t leaf : {0x17u, 0x20u, 0x3fffffffu, 0x40000100u, 0x7fffffffu, 0x80000009u, 0x80000021u,
                               0xc0000000u, 0xffffffffu}) {
        CAPTURE(leaf);
        check(guest_cpuid(host, p, leaf, 0, 0), {0, 0, 0, 0});
    }
    // Below the lower limits a host with fewer leaves sets, passthrough leaves vanish too.
    host.table[{0, 0}].eax = 0xb;
    host.table[{0x80000000, 0}].eax = 0x80000004;
    check(guest_cpuid(host, p, 0xd, 0, 0), {0, 0, 0, 0});
    check(guest_cpuid(host, p, 0x80000006, 0, 0), {0, 0, 0, 0});
    check(guest_cpuid(host, p, 0x80000004, 0, 0), {0x352e3320, 0x7a484730, 0, 0});
}

}  // TEST_SUITE

TEST_CASE("a guest with a local APIC: APIC and TSC-deadline bits, invariant TSC, leaves 0x15 and 0x16") {
    FakePlatform host;
    CpuidPolicy p = full_policy();
    CHECK((guest_cpuid(host, p, 1, 0, 0).edx & (1u << 9)) == 0);  // test guests: no APIC
    CHECK(guest_cpuid(host, p, 0x15, 0, 0).ecx == 0);
    p.local_apic = true;
    p.crystal_hz = 50'000'000;
    p.tsc_per_crystal = 2;
    CpuidValues one = guest_cpuid(host, p, 1, 0, 0);
    CHECK((one.edx & (1u << 9)) != 0);    // APIC
    CHECK((one.ecx & (1u << 24)) != 0);   // TSC-deadline
    CHECK((one.ecx & (1u << 21)) == 0);   // x2APIC stays hidden
    CHECK(guest_cpuid(host, p, 0, 0, 0).eax >= 0x16);
    check(guest_cpuid(host, p, 0x15, 0, 0), {1, 2, 50'000'000, 0});  // TSC = 100 MHz
    check(guest_cpuid(host, p, 0x16, 0, 0), {100, 100, 0, 0});
    CHECK((guest_cpuid(host, p, 0x80000007, 0, 0).edx & (1u << 8)) != 0);
    CHECK((guest_cpuid(host, p, 0xd, 1, 0).eax & 0x2) == 0);  // no XSAVEC: the standard format only
}
