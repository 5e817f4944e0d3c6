// What real processors answer for the XSAVE feature set (CPUID leaf 1 and leaf 0DH), for tests
// of everything tandem computes from CPUID on hardware Bochs does not model: Bochs has no AMX
// and its own XSAVE sizes (issue 14: XCR0 validation and the XSAVE area; issue 18 reuses these
// tables for the guest's leaf 0DH). Every value is copied from a raw dump of the real part:
//
//   Skylake-SP      Intel Xeon Gold 6148 (family 6 model 0x55 stepping 4): libvirt
//                   tests/cputestdata/x86_64-cpuid-Xeon-Gold-6148.xml
//   Ice Lake-SP     Intel Ice Lake Server (family 6 model 0x6a): libvirt
//                   tests/cputestdata/x86_64-cpuid-Ice-Lake-Server.xml
//   Sapphire Rapids leaf 0DH: the "Intel host" `cpuid -r` dump Yang Zhong (Intel) posted to
//                   qemu-devel on 22 March 2022 ("Re: [PULL 15/22] x86: Grant AMX permission for
//                   guest"); leaf 1: `cpuid -r -1` of a family 6 model 0x8f stepping 8 part
//                   (eax=0x000806f8 ebx=0x48400800 ecx=0x7ffefbff edx=0xbfebfbff)
//
// CPUID.(0DH,0):EBX is the area for the XCR0 the dumping kernel had set, so it differs between
// dumps; ECX (every supported component) and the subleaves are the processor's own.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "arch-x86_64/vmx/cpuid_policy.hpp"

namespace test {

struct CpuGeneration {
    std::string name;
    std::uint64_t xcr0 = 0;        // CPUID.(0DH,0):EDX:EAX, every XCR0 bit the processor supports
    std::uint32_t xsave_size = 0;  // CPUID.(0DH,0):ECX, the standard-format area for all of them
    std::map<std::pair<std::uint32_t, std::uint32_t>, tandem::x86::CpuidValues> leaves;
};

// A processor answering CPUID from a generation's table (zeros for what the table lacks).
class CpuidTable final : public tandem::x86::CpuidSource {
public:
    explicit CpuidTable(const CpuGeneration& cpu) : leaves_(cpu.leaves) {}
    tandem::x86::CpuidValues cpuid(std::uint32_t leaf, std::uint32_t subleaf) const override {
        bool indexed = leaf == 4 || leaf == 7 || leaf == 0xb || leaf == 0xd || leaf == 0xf || leaf == 0x10;
        auto it = leaves_.find({leaf, indexed ? subleaf : 0});
        return it == leaves_.end() ? tandem::x86::CpuidValues{0, 0, 0, 0} : it->second;
    }
    std::map<std::pair<std::uint32_t, std::uint32_t>, tandem::x86::CpuidValues>& leaves() { return leaves_; }

private:
    std::map<std::pair<std::uint32_t, std::uint32_t>, tandem::x86::CpuidValues> leaves_;
};

// x87 SSE AVX, MPX BNDREGS BNDCSR, AVX-512 opmask ZMM_Hi256 Hi16_ZMM, PKRU.
inline const CpuGeneration& skylake_sp() {
    static const CpuGeneration cpu{
        "Skylake-SP (Xeon Gold 6148)", 0x2ff, 2696,
        {
            {{0x1, 0}, {0x00050654, 0x45400800, 0x7ffefbff, 0xbfebfbff}},
            {{0x7, 0}, {0x00000000, 0xd39ffffb, 0x00000008, 0x00000000}},
            {{0xd, 0}, {0x000002ff, 0x00000a80, 0x00000a88, 0x00000000}},
            {{0xd, 1}, {0x0000000f, 0x00000a00, 0x00000100, 0x00000000}},
            {{0xd, 2}, {0x00000100, 0x00000240, 0x00000000, 0x00000000}},
            {{0xd, 3}, {0x00000040, 0x000003c0, 0x00000000, 0x00000000}},
            {{0xd, 4}, {0x00000040, 0x00000400, 0x00000000, 0x00000000}},
            {{0xd, 5}, {0x00000040, 0x00000440, 0x00000000, 0x00000000}},
            {{0xd, 6}, {0x00000200, 0x00000480, 0x00000000, 0x00000000}},
            {{0xd, 7}, {0x00000400, 0x00000680, 0x00000000, 0x00000000}},
            {{0xd, 8}, {0x00000080, 0x00000000, 0x00000001, 0x00000000}},
            {{0xd, 9}, {0x00000008, 0x00000a80, 0x00000000, 0x00000000}},
        }};
    return cpu;
}

// MPX is gone: x87 SSE AVX, AVX-512, PKRU.
inline const CpuGeneration& ice_lake_sp() {
    static const CpuGeneration cpu{
        "Ice Lake-SP (Ice Lake Server)", 0x2e7, 2696,
        {
            {{0x1, 0}, {0x000606a0, 0x25200800, 0x7ffefbff, 0xbfebfbff}},
            {{0x7, 0}, {0x00000000, 0xf3bfffff, 0x40417f5e, 0xbc000012}},
            {{0xd, 0}, {0x000002e7, 0x00000a88, 0x00000a88, 0x00000000}},
            {{0xd, 1}, {0x0000000f, 0x00000988, 0x00000100, 0x00000000}},
            {{0xd, 2}, {0x00000100, 0x00000240, 0x00000000, 0x00000000}},
            {{0xd, 5}, {0x00000040, 0x00000440, 0x00000000, 0x00000000}},
            {{0xd, 6}, {0x00000200, 0x00000480, 0x00000000, 0x00000000}},
            {{0xd, 7}, {0x00000400, 0x00000680, 0x00000000, 0x00000000}},
            {{0xd, 8}, {0x00000080, 0x00000000, 0x00000001, 0x00000000}},
            {{0xd, 9}, {0x00000008, 0x00000a80, 0x00000000, 0x00000000}},
        }};
    return cpu;
}

// AMX: XTILECFG (bit 17, 64 bytes at 2752) and XTILEDATA (bit 18, 8192 bytes at 2816): 11008 bytes
// in all. Subleaf 1 EAX bit 4: XFD. Supervisor components (ECX bit 0) in subleaves 8, 0xa-0xf.
inline const CpuGeneration& sapphire_rapids() {
    static const CpuGeneration cpu{
        "Sapphire Rapids", 0x602e7, 11008,
        {
            {{0x1, 0}, {0x000806f8, 0x48400800, 0x7ffefbff, 0xbfebfbff}},
            {{0xd, 0}, {0x000602e7, 0x00002b00, 0x00002b00, 0x00000000}},
            {{0xd, 1}, {0x0000001f, 0x00002d00, 0x0000dd00, 0x00000000}},
            {{0xd, 2}, {0x00000100, 0x00000240, 0x00000000, 0x00000000}},
            {{0xd, 5}, {0x00000040, 0x00000440, 0x00000000, 0x00000000}},
            {{0xd, 6}, {0x00000200, 0x00000480, 0x00000000, 0x00000000}},
            {{0xd, 7}, {0x00000400, 0x00000680, 0x00000000, 0x00000000}},
            {{0xd, 8}, {0x00000080, 0x00000000, 0x00000001, 0x00000000}},
            {{0xd, 9}, {0x00000008, 0x00000a80, 0x00000000, 0x00000000}},
            {{0xd, 0xa}, {0x00000008, 0x00000000, 0x00000001, 0x00000000}},
            {{0xd, 0xb}, {0x00000010, 0x00000000, 0x00000001, 0x00000000}},
            {{0xd, 0xc}, {0x00000018, 0x00000000, 0x00000001, 0x00000000}},
            {{0xd, 0xe}, {0x00000030, 0x00000000, 0x00000001, 0x00000000}},
            {{0xd, 0xf}, {0x00000328, 0x00000000, 0x00000001, 0x00000000}},
            {{0xd, 0x11}, {0x00000040, 0x00000ac0, 0x00000002, 0x00000000}},
            {{0xd, 0x12}, {0x00002000, 0x00000b00, 0x00000006, 0x00000000}},
        }};
    return cpu;
}

inline std::vector<const CpuGeneration*> cpu_generations() { return {&skylake_sp(), &ice_lake_sp(), &sapphire_rapids()}; }

}  // namespace test
