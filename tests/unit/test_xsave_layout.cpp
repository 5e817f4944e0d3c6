// The guest's XSAVE area sized from CPUID (arch-x86_64/vmx/xsave_layout.hpp) on real processors
// (cpu_generations.hpp), the checkpoint's bound on it (checkpoint::CpuState::kMaxXsave), and what
// the guest's CPUID says of the components it may not enable (cpuid_policy.cpp). Issue 14: the
// area was a fixed 8192 bytes, smaller than Sapphire Rapids' 11008, so every capture failed there.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "arch-x86_64/vmx/cpu_state_capture.hpp"
#include "arch-x86_64/vmx/cpuid_policy.hpp"
#include "arch-x86_64/vmx/xcr0.hpp"
#include "arch-x86_64/vmx/xsave_layout.hpp"
#include "ckpt_fake_cpu_platform.hpp"
#include "ckpt_memory.hpp"
#include "cpu_generations.hpp"
#include "hypervisor/console/writer.hpp"
#include "vmx_fake_vmcs.hpp"

using namespace tandem::x86;
using tandem::checkpoint::CpuState;
using test::CpuidTable;

namespace {
constexpr std::uint32_t kBound = static_cast<std::uint32_t>(CpuState::kMaxXsave);

std::string message(const tandem::Error& e) { return e.message; }
}  // namespace

TEST_SUITE("xsave layout") {

TEST_CASE("the standard-format size computed from leaf 0xD agrees with each processor's own") {
    for (const test::CpuGeneration* cpu : test::cpu_generations()) {
        CAPTURE(cpu->name);
        CpuidTable table(*cpu);
        auto all = xsave_standard_size(table, cpu->xcr0);
        REQUIRE(all.ok());
        CHECK(*all == cpu->xsave_size);  // CPUID.(0DH,0):ECX, for every supported component
        CHECK(*xsave_standard_size(table, 0x3) == 576);   // legacy region and header only
        CHECK(*xsave_standard_size(table, 0x7) == 832);   // AVX: 256 bytes at 576
        CHECK(*xsave_standard_size(table, 0xe7) == 2688);  // Hi16_ZMM ends there
        CHECK(*xsave_standard_size(table, 0x2e7) == 2696);  // PKRU: 8 bytes at 2688
    }
    CpuidTable skx(test::skylake_sp());
    CHECK(*xsave_standard_size(skx, 0x1f) == 1088);  // BNDCSR: 64 bytes at 1024
    CpuidTable spr(test::sapphire_rapids());
    CHECK(*xsave_standard_size(spr, 0x20003) == 2816);   // TILECFG: 64 bytes at 2752
    CHECK(*xsave_standard_size(spr, 0x60003) == 11008);  // TILEDATA: 8192 bytes at 2816
}

TEST_CASE("the guest's area on real processors: its components, its size, within the checkpoint's bound") {
    for (const test::CpuGeneration* cpu : test::cpu_generations()) {
        CAPTURE(cpu->name);
        auto layout = read_xsave_layout(CpuidTable(*cpu), kBound);
        REQUIRE(layout.ok());
        CHECK(layout->host_xcr0 == cpu->xcr0);
        CHECK(layout->host_size == cpu->xsave_size);
        CHECK(layout->guest_xcr0 == 0x2e7);  // x87 SSE AVX, AVX-512, PKRU: no MPX, no AMX
        CHECK(layout->size == 2696);
        CHECK(valid_xcr0(layout->guest_xcr0, layout->host_xcr0));
        // The bound holds every component the processor offers, AMX's 8 KiB of tiles included,
        // so offering AMX to the guest would need no change of the checkpoint format.
        CHECK(cpu->xsave_size <= CpuState::kMaxXsave);
    }
    CHECK(CpuState::kMaxEncoded <= tandem::checkpoint::kCpuStateMaxPayload);
}

TEST_CASE("a processor without XSAVE: an empty layout, nothing saved") {
    test::CpuGeneration none = test::skylake_sp();
    none.leaves[{1, 0}].ecx &= ~(1u << 26);
    auto layout = read_xsave_layout(CpuidTable(none), kBound);
    REQUIRE(layout.ok());
    CHECK(layout->host_xcr0 == 0);
    CHECK(layout->guest_xcr0 == 0);
    CHECK(layout->size == 0);
}

TEST_CASE("refused at boot: an area beyond the checkpoint's bound, an inconsistent leaf 0xD") {
    CpuidTable spr(test::sapphire_rapids());
    auto small = read_xsave_layout(spr, 2048);
    REQUIRE_FALSE(small.ok());
    CHECK(message(small.error()) ==
          "the XSAVE area for the guest's state components is larger than a checkpoint carries (bytes)");
    CHECK(small.error().value == 2696);
    CHECK(read_xsave_layout(spr, 2696).ok());

    // A processor placing PKRU past the bound (a future part with a larger area).
    CpuidTable future(test::sapphire_rapids());
    future.leaves()[{0xd, 9}] = {8, 12288, 0, 0};
    auto beyond = read_xsave_layout(future, kBound);
    REQUIRE_FALSE(beyond.ok());
    CHECK(beyond.error().value == 12296);

    CpuidTable no_sse(test::ice_lake_sp());
    no_sse.leaves()[{0xd, 0}].eax = 0x1;
    CHECK_FALSE(read_xsave_layout(no_sse, kBound).ok());
}

TEST_CASE("a component leaf 0xD gives no place is hidden from the guest, not refused (Bochs' tigerlake: PKRU)") {
    // Ice Lake-SP's leaves, but PKRU's subleaf reads 0, as Bochs 2.7's tigerlake model says
    // (Linux on it: "XFEATURE_PKRU: struct is 8 bytes, cpu state 0 bytes", issue 18).
    CpuidTable bochs(test::ice_lake_sp());
    bochs.leaves()[{0xd, 9}] = {0, 0, 0, 0};
    auto layout = read_xsave_layout(bochs, kBound);
    REQUIRE(layout.ok());
    CHECK(layout->unplaced == 0x200);
    CHECK(layout->guest_xcr0 == 0xe7);
    CHECK(layout->size == 2688);  // Hi16_ZMM's end: PKRU's place is not counted
    std::vector<char> buffer(512);
    tandem::BufferWriter out(buffer.data(), buffer.size());
    report_xsave_layout(out, *layout, kBound);
    CHECK(std::string(out.view()).find("cpu: CPUID leaf 0xD gives no place in the XSAVE area to components 0x200: "
                                       "hidden from the guest") != std::string::npos);
    // What the guest is told agrees: no PKRU in leaf 0xD, no PKU in leaf 7.
    bochs.leaves()[{0, 0}] = {0x20, 0, 0, 0};
    CpuidPolicy p;
    p.xcr0_components = layout->guest_xcr0;
    CHECK(guest_cpuid(bochs, p, 0xd, 0, 0).eax == 0xe7);
    CpuidValues pkru = guest_cpuid(bochs, p, 0xd, 9, 0);
    CHECK((pkru.eax | pkru.ebx | pkru.ecx | pkru.edx) == 0);
    CHECK((guest_cpuid(bochs, p, 7, 0, 0).ecx & 0x18) == 0);  // PKU, OSPKE
    CHECK((guest_cpuid(bochs, p, 7, 0, 0).ebx & (1u << 16)) != 0);  // AVX-512F stays

    // One of the AVX-512 triple without a place, or a place inside the legacy region, or a
    // supervisor component where a user one should be: the triple goes whole, and its features.
    for (CpuidValues bad : {CpuidValues{0, 0x680, 0, 0}, CpuidValues{0x400, 0x100, 0, 0}, CpuidValues{0x400, 0x680, 1, 0}}) {
        CpuidTable broken(test::ice_lake_sp());
        broken.leaves()[{0, 0}] = {0x20, 0, 0, 0};
        broken.leaves()[{0xd, 7}] = bad;
        auto without = read_xsave_layout(broken, kBound);
        REQUIRE(without.ok());
        CHECK(without->unplaced == 0xe0);
        CHECK(without->guest_xcr0 == 0x207);
        CpuidPolicy q;
        q.xcr0_components = without->guest_xcr0;
        CHECK((guest_cpuid(broken, q, 7, 0, 0).ebx & (1u << 16)) == 0);  // AVX-512F hidden
        CHECK((guest_cpuid(broken, q, 7, 0, 0).ecx & 0x8) != 0);         // PKU stays
    }
}

TEST_CASE("the boot line says what the guest gets and what is hidden") {
    std::vector<char> buffer(512);
    tandem::BufferWriter out(buffer.data(), buffer.size());
    report_xsave_layout(out, *read_xsave_layout(CpuidTable(test::sapphire_rapids()), kBound), kBound);
    CHECK(std::string(out.view()) ==
          "cpu: XSAVE components 0x602e7 (11008 bytes); the guest may enable 0x2e7 (hidden: 0x60000), saved in 2696 "
          "of the 12288 bytes a checkpoint carries\n");
}

TEST_CASE("a capture holds the largest area real processors have (Sapphire Rapids with AMX: 11008 bytes)") {
    test::FakeVmcs vmcs;
    GuestRegisters regs{};
    ckpt::FakeCpuPlatform platform;
    platform.xcr0 = 0x602e7;
    platform.xsave.assign(test::sapphire_rapids().xsave_size, 0x5a);
    auto state = std::make_unique<CpuState>();
    REQUIRE(ckpt::err(capture_cpu_state(vmcs, regs, platform, *state)) == "");
    CHECK(state->xsave().size() == 11008);
}

TEST_CASE("the guest's CPUID on Sapphire Rapids: no AMX, no XFD, only the components it may enable") {
    CpuidTable spr(test::sapphire_rapids());
    spr.leaves()[{0, 0}] = {0x20, 0, 0, 0};
    // Leaf 7 EDX: AMX-BF16 (22), AMX-TILE (24), AMX-INT8 (25) (SDM Vol. 2A Table 3-8).
    spr.leaves()[{7, 0}] = {0, 0, 0, (1u << 22) | (1u << 24) | (1u << 25) | (1u << 23)};
    CpuidPolicy p;
    CHECK(guest_cpuid(spr, p, 7, 0, 0).edx == (1u << 23));  // AVX512-FP16 stays
    CpuidValues d0 = guest_cpuid(spr, p, 0xd, 0, 0);
    CHECK(d0.eax == 0x2e7);
    CHECK(d0.edx == 0);
    CHECK((guest_cpuid(spr, p, 0xd, 1, 0).eax & (1u << 4)) == 0);  // XFD
    for (std::uint32_t sub : {0x11u, 0x12u, 0x3u, 0x4u}) {
        CAPTURE(sub);
        CpuidValues v = guest_cpuid(spr, p, 0xd, sub, 0);
        CHECK((v.eax | v.ebx | v.ecx | v.edx) == 0);
    }
    CHECK(guest_cpuid(spr, p, 0xd, 9, 0).ebx == 0xa80);  // PKRU stays
    CHECK(guest_cpuid(spr, p, 0xd, 0xf, 0).eax == 0x328);  // supervisor components: as the host says
}

TEST_CASE("an XSAVE image XRSTOR would fault on is refused, before the vCPU is touched (issue 14, item 6)") {
    ckpt::FakeCpuPlatform platform;  // the guest may enable 0xe7 in a 2688-byte area
    std::vector<std::uint8_t> image(2688, 0x33);
    ckpt::make_restorable(image, 0xe7);
    CHECK(ckpt::err(check_xsave_image(image, platform.layout)) == "");
    auto refused = [&](auto&& change) {
        std::vector<std::uint8_t> bad = image;
        change(bad);
        return ckpt::err(check_xsave_image(bad, platform.layout));
    };
    // XSTATE_BV naming AMX tile data, or PKRU the guest was not given, or a reserved bit.
    for (unsigned bit : {18u, 9u, 62u}) {
        CAPTURE(bit);
        CHECK(refused([&](auto& b) { b[512 + bit / 8] |= static_cast<std::uint8_t>(1u << (bit % 8)); }) ==
              "cpu state: the XSAVE header's XSTATE_BV names components the guest may not enable");
    }
    CHECK(refused([](auto& b) { b[527] = 0x80; }) == "cpu state: the XSAVE header's bytes 23:8 (XCOMP_BV) are not zero");
    CHECK(refused([](auto& b) { b[530] = 1; }) == "cpu state: the XSAVE header's bytes 23:8 (XCOMP_BV) are not zero");
    CHECK(refused([](auto& b) { b[26] = 1; }) == "cpu state: the XSAVE image's MXCSR sets reserved bits");
    CHECK(refused([](auto& b) { b.resize(2696); }) ==
          "cpu state: the XSAVE image's size (bytes) is not this processor's area for the guest (the peer's processor "
          "differs)");
    // Bytes 63:24 of the header are not checked by XRSTOR in the standard form: accepted.
    CHECK(refused([](auto& b) { b[540] = 0xff; }) == "");

    // Through restore: refused with nothing written (XCR0 and the VMCS as they were).
    test::FakeVmcs vmcs;
    GuestRegisters regs{};
    platform.xcr0 = 0xe7;
    platform.xsave = image;
    auto state = std::make_unique<CpuState>();
    REQUIRE(ckpt::err(capture_cpu_state(vmcs, regs, platform, *state)) == "");
    std::vector<std::uint8_t> hostile(state->xsave().begin(), state->xsave().end());
    hostile[512 + 2] |= 0x2;  // XSTATE_BV bit 17: TILECFG
    REQUIRE(state->set_xsave(hostile));
    ckpt::FakeCpuPlatform target;
    target.xcr0 = 0x3;
    test::FakeVmcs fresh;
    GuestRegisters fresh_regs{};
    CrPolicy any{0, ~0ull, 0, ~0ull, 0, 0};
    CHECK(ckpt::err(restore_cpu_state(*state, fresh, fresh_regs, target, any)) ==
          "cpu state: the XSAVE header's XSTATE_BV names components the guest may not enable");
    CHECK(target.xcr0 == 0x3);
    CHECK(target.xsave.empty());
    CHECK(fresh.read(vmcs::guest_rip) == 0);
}

}  // TEST_SUITE
