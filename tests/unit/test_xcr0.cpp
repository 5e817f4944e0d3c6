// XCR0 validation (arch-x86_64/vmx/xcr0.hpp) with the XCR0 bits real processors support
// (cpu_generations.hpp): every value XSETBV would #GP on is refused, as the SDM lists them (Vol. 2D
// XSETBV; Vol. 1 §13.3), because tandem executes XSETBV in VMX root operation, where a #GP halts
// the hypervisor. Issue 14: the AMX pair (bits 18:17) was not checked, so a guest on a Sapphire
// Rapids host could set one of them and bring tandem down.
#include <doctest/doctest.h>

#include <cstdint>

#include "arch-x86_64/vmx/xcr0.hpp"
#include "cpu_generations.hpp"

using tandem::x86::valid_xcr0;

namespace {
constexpr std::uint64_t bit(unsigned n) { return 1ull << n; }
}  // namespace

TEST_SUITE("xcr0") {

TEST_CASE("XCR0 on real processors: what each supports is valid, and every SDM rule holds") {
    for (const test::CpuGeneration* cpu : test::cpu_generations()) {
        CAPTURE(cpu->name);
        std::uint64_t all = cpu->xcr0;
        CHECK(valid_xcr0(all, all));  // everything the processor supports, together
        CHECK(valid_xcr0(0x1, all));  // x87 alone
        CHECK(valid_xcr0(0x3, all));
        CHECK(valid_xcr0(0x7, all));
        CHECK(valid_xcr0(0xe7, all));

        CHECK_FALSE(valid_xcr0(0x0, all));            // x87 cannot be disabled
        CHECK_FALSE(valid_xcr0(all & ~bit(0), all));  // not even with everything else on
        CHECK_FALSE(valid_xcr0(0x5, all));            // AVX without SSE: XCR0[2:1] = 10b
        CHECK_FALSE(valid_xcr0(0xe5, all));
        CHECK_FALSE(valid_xcr0(0xe3, all));  // AVX-512 without AVX: XCR0[2:1] must be 11b
        CHECK_FALSE(valid_xcr0(0xe1, all));  // nor without SSE
        for (std::uint64_t partial : {0x27ull, 0x47ull, 0x87ull, 0x67ull, 0xa7ull, 0xc7ull}) {
            CAPTURE(partial);
            CHECK_FALSE(valid_xcr0(partial, all));  // AVX-512: all three components or none
        }
        // Bits the processor does not support, and reserved ones.
        for (unsigned b = 0; b < 64; ++b) {
            if ((all >> b) & 1) continue;
            CAPTURE(b);
            CHECK_FALSE(valid_xcr0(0x3 | bit(b), all));
        }
    }
}

TEST_CASE("XCR0 on Skylake-SP: the MPX components only together") {
    std::uint64_t all = test::skylake_sp().xcr0;
    CHECK(valid_xcr0(0x1f, all));
    CHECK_FALSE(valid_xcr0(0x0f, all));  // BNDREGS alone
    CHECK_FALSE(valid_xcr0(0x17, all));  // BNDCSR alone
    CHECK_FALSE(valid_xcr0(all & ~bit(3), all));
    CHECK_FALSE(valid_xcr0(all & ~bit(4), all));
}

TEST_CASE("XCR0 on Sapphire Rapids: AMX TILECFG and TILEDATA only together") {
    std::uint64_t all = test::sapphire_rapids().xcr0;
    REQUIRE(all == 0x602e7);
    CHECK(valid_xcr0(0x60007, all));
    CHECK(valid_xcr0(0x602e7, all));
    CHECK_FALSE(valid_xcr0(all & ~bit(18), all));  // TILECFG without TILEDATA
    CHECK_FALSE(valid_xcr0(all & ~bit(17), all));  // TILEDATA without TILECFG
    CHECK_FALSE(valid_xcr0(0x20007, all));
    CHECK_FALSE(valid_xcr0(0x40007, all));
    CHECK_FALSE(valid_xcr0(0x20003, all));
    CHECK_FALSE(valid_xcr0(0x40003, all));
    CHECK_FALSE(valid_xcr0(0x1f, all));  // no MPX on this processor
}

}  // TEST_SUITE
