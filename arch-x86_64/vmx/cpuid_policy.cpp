#include "arch-x86_64/vmx/cpuid_policy.hpp"

#include "arch-x86_64/vmx/xcr0.hpp"
#include "guest-boot/test_guest_abi.hpp"

namespace tandem::x86 {
namespace {

constexpr std::uint32_t bit(unsigned n) { return 1u << n; }

// CPUID.1 (SDM Vol. 2A, Table 3-10 and 3-11).
constexpr std::uint32_t kLeaf1EcxHidden = bit(3) /*MONITOR*/ | bit(5) /*VMX*/ | bit(6) /*SMX*/ | bit(7) /*EST*/ |
                                          bit(8) /*TM2*/ | bit(11) /*SDBG*/ | bit(15) /*PDCM*/ | bit(18) /*DCA*/ |
                                          bit(21) /*x2APIC: not emulated yet*/ | bit(24) /*TSC-deadline: ditto*/ |
                                          bit(27) /*OSXSAVE: mirrors guest CR4*/;
constexpr std::uint32_t kLeaf1EdxHidden = bit(7) /*MCE*/ | bit(9) /*APIC: not emulated yet*/ | bit(12) /*MTRR*/ |
                                          bit(14) /*MCA*/ | bit(18) /*PSN*/ | bit(21) /*DS*/ | bit(22) /*ACPI*/ |
                                          bit(28) /*HTT*/ | bit(29) /*TM*/ | bit(31) /*PBE*/;
constexpr std::uint32_t kLeaf1EcxHypervisor = bit(31);
constexpr std::uint32_t kLeaf1EcxXsave = bit(26);
constexpr std::uint64_t kCr4OsXsave = 1ull << 18;

// CPUID.(7,0) (SDM Vol. 2A Table 3-8). EBX[1], IA32_TSC_ADJUST, is shown: the MSR reads 0
// (vcpu_msr.cpp). With it and the invariant TSC, Linux (since 5.17, check_system_tsc_reliable)
// trusts the TSC without judging it by a clocksource watchdog, so the default command line
// needs no tsc=reliable (issue 18).
constexpr std::uint32_t kLeaf7EbxHidden = bit(2) /*SGX*/ | bit(12) /*RDT-M*/ | bit(14) /*MPX*/ | bit(15) /*RDT-A*/ |
                                          bit(25) /*PT*/;
constexpr std::uint32_t kLeaf7EbxInvpcid = bit(10);
constexpr std::uint32_t kLeaf7EcxHidden = bit(5) /*WAITPKG*/ | bit(30) /*SGX_LC*/ | bit(31) /*PKS*/;
// AMX is not offered (xcr0.hpp kXcr0GuestComponents says why): AMX-BF16, AMX-TILE, AMX-INT8.
// IA32_CORE_CAPABILITIES is not virtualised. The speculation-control bits (MD_CLEAR, IBRS/IBPB,
// STIBP, L1D_FLUSH, ARCH_CAPABILITIES, SSBD) are the policy's (speculation.hpp).
constexpr std::uint32_t kLeaf7EdxHidden = bit(15) /*hybrid*/ | bit(22) /*AMX-BF16*/ | bit(24) /*AMX-TILE*/ |
                                          bit(25) /*AMX-INT8*/ | bit(30) /*CORE_CAPABILITIES*/;
// The features whose state lives in XSAVE components the guest may not have (xcr0_components):
// PKU and OSPKE with PKRU; AVX-512 F, DQ, IFMA, PF, ER, CD, BW, VL (EBX), VBMI, VBMI2, VNNI,
// BITALG, VPOPCNTDQ (ECX), 4VNNIW, 4FMAPS, VP2INTERSECT, FP16 (EDX) with the AVX-512 triple.
constexpr std::uint32_t kLeaf7EcxPkru = bit(3) | bit(4);
constexpr std::uint32_t kLeaf7EbxAvx512 = bit(16) | bit(17) | bit(21) | bit(26) | bit(27) | bit(28) | bit(30) | bit(31);
constexpr std::uint32_t kLeaf7EcxAvx512 = bit(1) | bit(6) | bit(11) | bit(12) | bit(14);
constexpr std::uint32_t kLeaf7EdxAvx512 = bit(2) | bit(3) | bit(8) | bit(23);
constexpr std::uint32_t kLeaf7EdxSpeculation = bit(10) | bit(26) | bit(27) | bit(28) | bit(29) | bit(31);
// CPUID.(0DH,1):EAX (SDM Vol. 2A Table 3-8): XSAVEC, XSAVES, XFD (IA32_XFD is not virtualised,
// and only AMX uses it).
constexpr std::uint32_t kLeafDSub1EaxXsavec = bit(1), kLeafDSub1EaxXsaves = bit(3), kLeafDSub1EaxXfd = bit(4);
constexpr std::uint32_t kLeafDSubEcxSupervisor = bit(0);
constexpr std::uint32_t kExt1EcxHidden = bit(2) /*SVM*/;
constexpr std::uint32_t kExt1EdxRdtscp = bit(27);
constexpr std::uint32_t kExt7EdxInvariantTsc = bit(8);
constexpr std::uint32_t kLeaf1EdxApic = bit(9), kLeaf1EcxTscDeadline = bit(24);
constexpr std::uint32_t kTscLeaf = 0x15, kFrequencyLeaf = 0x16;

// Leaf 0DH: only the user state components the guest may enable (xcr0.hpp: MPX and AMX are
// hidden in leaf 7, so their components are too; the others' subleaves read 0), and of the
// instructions only those tandem lets the guest use.
CpuidValues xsave_leaf(CpuidValues v, const CpuidPolicy& p, std::uint32_t subleaf) {
    if (subleaf == 0) {
        std::uint64_t components = p.xcr0_components & kXcr0GuestComponents;
        v.eax &= static_cast<std::uint32_t>(components);
        v.edx &= static_cast<std::uint32_t>(components >> 32);
    }
    if (subleaf >= 2 && subleaf < 63 && (v.ecx & kLeafDSubEcxSupervisor) == 0 &&
        (((p.xcr0_components & kXcr0GuestComponents) >> subleaf) & 1) == 0) {
        return {0, 0, 0, 0};
    }
    if (subleaf == 1) v.eax &= ~kLeafDSub1EaxXfd;
    if (subleaf == 1 && !p.xsaves) v.eax &= ~kLeafDSub1EaxXsaves;
    // A kernel uses the compacted format with XSAVEC too, sizing it by subleaf 1's EBX, which
    // Bochs fills with the standard format's size (Linux then warns "XSAVE consistency
    // problem"). The unmodified guest gets the standard format only.
    if (subleaf == 1 && p.local_apic) v.eax &= ~kLeafDSub1EaxXsavec;
    return v;
}

}  // namespace

CpuidValues guest_cpuid(const CpuidSource& host, const CpuidPolicy& p, std::uint32_t leaf, std::uint32_t subleaf,
                        std::uint64_t guest_cr4) {
    namespace abi = tandem::guest_abi;
    if (leaf >= abi::kCpuidHypervisorBase && leaf < abi::kCpuidHypervisorBase + 0x100) {
        if (leaf == abi::kCpuidHypervisorBase) {
            return {abi::kCpuidTimingLeaf, abi::kSignatureEbx, abi::kSignatureEcx, abi::kSignatureEdx};
        }
        if (leaf == abi::kCpuidTimingLeaf) return {p.tsc_khz, 0, 0, 0};
        return {0, 0, 0, 0};
    }
    std::uint32_t max_basic = host.cpuid(0, 0).eax;
    if (p.local_apic && max_basic < kFrequencyLeaf) max_basic = kFrequencyLeaf;
    std::uint32_t max_extended = host.cpuid(0x80000000, 0).eax;
    bool basic = leaf < 0x80000000;
    if ((basic && leaf > max_basic) || (!basic && leaf > max_extended)) return {0, 0, 0, 0};

    CpuidValues v = host.cpuid(leaf, subleaf);
    if (p.local_apic && leaf == kTscLeaf) return {1, p.tsc_per_crystal, p.crystal_hz, 0};
    if (p.local_apic && leaf == kFrequencyLeaf) {
        // Base and maximum frequency in MHz: Linux's early CPU-frequency estimate, which it would
        // otherwise measure against the PIT (native_calibrate_cpu_early).
        auto mhz = static_cast<std::uint32_t>(static_cast<std::uint64_t>(p.crystal_hz) * p.tsc_per_crystal / 1000000);
        return {mhz, mhz, 0, 0};
    }
    switch (leaf) {
        case 0x0:
            v.eax = max_basic;
            return v;
        case 0x2:
        case 0x80000000:
        case 0x80000002:
        case 0x80000003:
        case 0x80000004:
        case 0x80000006:
        case 0x80000008:
            return v;
        case 0x1:
            v.ecx = (v.ecx & ~kLeaf1EcxHidden) | kLeaf1EcxHypervisor;
            if ((v.ecx & kLeaf1EcxXsave) && (guest_cr4 & kCr4OsXsave)) v.ecx |= bit(27);
            v.edx &= ~kLeaf1EdxHidden;
            if (p.local_apic) {
                v.edx |= kLeaf1EdxApic;
                v.ecx |= kLeaf1EcxTscDeadline;
            }
            // One logical processor, APIC ID 0; keep the CLFLUSH line size (bits 15:8).
            v.ebx = (v.ebx & 0xff00u) | (1u << 16);
            return v;
        case 0x4:
            // Deterministic cache parameters: one core, no sharing (EAX bits 31:26 and 25:14).
            v.eax &= 0x3fffu;
            return v;
        case 0x7:
            if (subleaf != 0) return {0, 0, 0, 0};
            v.eax = 0;  // no further subleaves
            v.ebx &= ~kLeaf7EbxHidden;
            if (!p.invpcid) v.ebx &= ~kLeaf7EbxInvpcid;
            v.ecx &= ~kLeaf7EcxHidden;
            v.edx = (v.edx & ~(kLeaf7EdxHidden | kLeaf7EdxSpeculation)) |
                    (v.edx & p.leaf7_edx_speculation & kLeaf7EdxSpeculation);
            if ((p.xcr0_components & kXcr0Pkru) == 0) v.ecx &= ~kLeaf7EcxPkru;
            if ((p.xcr0_components & kXcr0Avx512) != kXcr0Avx512) {
                v.ebx &= ~kLeaf7EbxAvx512;
                v.ecx &= ~kLeaf7EcxAvx512;
                v.edx &= ~kLeaf7EdxAvx512;
            }
            return v;
        case 0xd:
            return xsave_leaf(v, p, subleaf);
        case 0x80000001:
            v.ecx &= ~kExt1EcxHidden;
            if (!p.rdtscp) v.edx &= ~kExt1EdxRdtscp;
            return v;
        case 0x80000007:
            // The guest's TSC is the host's plus an offset: invariant when the host's is, and
            // always with a local APIC (its timers count on it).
            return {0, 0, 0, (v.edx & kExt7EdxInvariantTsc) | (p.local_apic ? kExt7EdxInvariantTsc : 0)};
        default:
            // 3 (serial number), 5 (MONITOR), 6 (power), 0xa (PMU), 0xb/0x1f (topology), 0xf/0x10
            // (RDT), 0x12 (SGX), 0x14 (PT) and everything newer: not offered.
            return {0, 0, 0, 0};
    }
}

}  // namespace tandem::x86
