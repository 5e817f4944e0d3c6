// A fake VcpuPlatform: CPUID answered from a fixed table, a TSC the test sets, and XSETBV
// recorded instead of executed.
//
// The table is modelled on the Skylake-X (i7-7800X, family 6 model 0x55 stepping 4) that Bochs's
// corei7_skylake_x model reports, with a few extra bits set on purpose so every filter in
// cpuid_policy.cpp has something to remove: VMX, SMX, x2APIC, TSC-deadline, MCE/MCA/MTRR, SGX-less
// but PT/MPX/RDT in leaf 7, WAITPKG/SGX_LC/PKS and the speculation-control bits, SVM in
// 0x80000001, power-management bits in 0x80000007.
#pragma once

#include <cstdint>
#include <map>
#include <utility>
#include <vector>

#include "arch-x86_64/vmx/vcpu.hpp"

namespace test {

class FakePlatform final : public tandem::x86::VcpuPlatform {
public:
    using Values = tandem::x86::CpuidValues;

    Values cpuid(std::uint32_t leaf, std::uint32_t subleaf) const override {
        ++cpuid_calls_;
        // Leaves without subleaves ignore ECX, as the processor does.
        bool indexed = leaf == 4 || leaf == 7 || leaf == 0xb || leaf == 0xd || leaf == 0xf || leaf == 0x10;
        auto it = table.find({leaf, indexed ? subleaf : 0});
        return it == table.end() ? Values{0, 0, 0, 0} : it->second;
    }
    std::uint64_t read_tsc() const override { return tsc; }
    bool set_xcr0(std::uint64_t value) override {
        xcr0_writes.push_back(value);
        return accept_xcr0;
    }

    unsigned cpuid_calls() const { return cpuid_calls_; }

    std::map<std::pair<std::uint32_t, std::uint32_t>, Values> table = skylake_x();
    std::uint64_t tsc = 0x1234'5678'9abcull;
    bool accept_xcr0 = true;
    std::vector<std::uint64_t> xcr0_writes;

    static constexpr std::uint64_t kSkylakeXcr0 = 0x2ff;  // x87 SSE AVX BNDREGS BNDCSR opmask ZMM PKRU

    static std::map<std::pair<std::uint32_t, std::uint32_t>, Values> skylake_x() {
        return {
            {{0x0, 0}, {0x16, 0x756e6547, 0x6c65746e, 0x49656e69}},  // "GenuineIntel"
            // EBX: APIC ID 0x12, 16 logical processors, CLFLUSH 8 qwords, brand index 0.
            {{0x1, 0}, {0x00050654, 0x12100800, 0x7ffefbff, 0xbfebfbff}},
            {{0x2, 0}, {0x76036301, 0x00f0b5ff, 0x00000000, 0x00c30000}},
            {{0x3, 0}, {0, 0, 0x1234, 0x5678}},
            {{0x4, 0}, {0x1c004121, 0x01c0003f, 0x0000003f, 0}},
            {{0x4, 1}, {0x1c004122, 0x01c0003f, 0x0000003f, 0}},
            {{0x4, 3}, {0x1c03c163, 0x0280003f, 0x00002fff, 0x4}},
            {{0x5, 0}, {0x40, 0x40, 0x3, 0x00002020}},
            {{0x6, 0}, {0x77, 0x2, 0x9, 0}},
            {{0x7, 0}, {0x0, 0xd39ffffb, 0xc0000028, 0xbc008400}},
            {{0x7, 1}, {0x20, 0, 0, 0}},
            {{0xa, 0}, {0x07300404, 0, 0, 0x603}},
            {{0xb, 0}, {0x1, 0x2, 0x100, 0x12}},
            {{0xd, 0}, {static_cast<std::uint32_t>(kSkylakeXcr0), 0xa88, 0xa88, 0}},
            {{0xd, 1}, {0xf, 0, 0, 0}},
            {{0xd, 2}, {0x100, 0x240, 0, 0}},
            {{0x14, 0}, {0x1, 0xf, 0x7, 0}},
            {{0x16, 0}, {0xdac, 0xfa0, 0x64, 0}},
            {{0x80000000, 0}, {0x80000008, 0, 0, 0}},
            {{0x80000001, 0}, {0, 0, 0x00000125, 0x2c100800}},
            {{0x80000002, 0}, {0x65746e49, 0x2952286c, 0x726f4320, 0x4d542865}},  // "Intel(R) Core(TM"
            {{0x80000003, 0}, {0x37692029, 0x3038372d, 0x43205830, 0x40205550}},  // ") i7-7800X CPU @"
            {{0x80000004, 0}, {0x352e3320, 0x7a484730, 0, 0}},                    // " 3.50GHz"
            {{0x80000006, 0}, {0, 0, 0x01006040, 0}},
            {{0x80000007, 0}, {0x1, 0x5, 0x7, 0x101}},
            {{0x80000008, 0}, {0x0000302e, 0, 0, 0}},
        };
    }

private:
    mutable unsigned cpuid_calls_ = 0;
};

}  // namespace test
