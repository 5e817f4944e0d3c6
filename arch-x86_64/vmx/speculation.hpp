// Transient-execution mitigations between the guest and tandem (issue 14, item 4). The link key
// and the peer's checkpoints live in memory the guest's CPU shares, so what the guest could read
// through a side channel is tandem's secret, and the guest's own kernel needs the controls the
// hardware has to protect its userspace. Decided here from what the processor says (CPUID leaf 7
// EDX and IA32_ARCH_CAPABILITIES), as Linux/KVM decide (arch/x86/kernel/cpu/bugs.c, vmx.c):
//   - L1TF (SDM Vol. 3C §28.3.3.4 is silent; Intel's "Deep Dive: L1 Terminal Fault"): flush the
//     L1 data cache before every VM entry with IA32_FLUSH_CMD, unless ARCH_CAPABILITIES says
//     RDCL_NO (not affected) or SKIP_L1DFL_VMENTRY (the flush is not needed at VM entry).
//   - MDS and TAA (Intel's "Deep Dive: MDS"): VERW before every VM entry clears the CPU buffers
//     when MD_CLEAR is enumerated, unless MDS_NO (and, with TSX, TAA_NO) say the processor is
//     not affected, or the L1D flush already runs (it clears the buffers too on such processors).
//   - To the guest: CPUID's IBRS/IBPB, STIBP, L1D_FLUSH, SSBD, MD_CLEAR and ARCH_CAPABILITIES as
//     the processor has them; IA32_SPEC_CTRL, IA32_PRED_CMD and IA32_FLUSH_CMD go straight to
//     the hardware (MSR bitmap), SPEC_CTRL is carried in checkpoints, ARCH_CAPABILITIES reads
//     the processor's value (the bits below) and refuses writes.
// Not assessed here (said in the boot line): MMIO stale data, RFDS, GDS, return-stack refilling
// after VM exit, IBRS for tandem's own code. Portable: the facts come in as values, and the host
// tests use those of real processors.
#pragma once

#include <cstdint>

#include "arch-x86_64/vmx/cpuid_policy.hpp"
#include "hypervisor/console/writer.hpp"

namespace tandem::x86 {

// MSR numbers (SDM Vol. 4 Table 2-2).
inline constexpr std::uint32_t kMsrSpecCtrl = 0x48;
inline constexpr std::uint32_t kMsrPredCmd = 0x49;
inline constexpr std::uint32_t kMsrArchCapabilities = 0x10a;
inline constexpr std::uint32_t kMsrFlushCmd = 0x10b;
inline constexpr std::uint64_t kFlushCmdL1d = 1;  // IA32_FLUSH_CMD bit 0

// IA32_ARCH_CAPABILITIES bits (SDM Vol. 4 Table 2-2).
namespace arch_cap {
inline constexpr std::uint64_t rdcl_no = 1ull << 0;
inline constexpr std::uint64_t ibrs_all = 1ull << 1;
inline constexpr std::uint64_t rsba = 1ull << 2;
inline constexpr std::uint64_t skip_l1dfl_vmentry = 1ull << 3;
inline constexpr std::uint64_t ssb_no = 1ull << 4;
inline constexpr std::uint64_t mds_no = 1ull << 5;
inline constexpr std::uint64_t if_pschange_mc_no = 1ull << 6;
inline constexpr std::uint64_t tsx_ctrl = 1ull << 7;
inline constexpr std::uint64_t taa_no = 1ull << 8;
// What the guest may read: the "not affected" and "enhanced" bits. TSX_CTRL and anything newer
// name MSRs tandem does not give the guest.
inline constexpr std::uint64_t guest_visible = rdcl_no | ibrs_all | rsba | skip_l1dfl_vmentry | ssb_no | mds_no |
                                               if_pschange_mc_no | taa_no;
}  // namespace arch_cap

// What the processor enumerates (CPUID.(7,0):EDX, CPUID.(7,0):EBX[11] RTM) and ARCH_CAPABILITIES'
// value (0 when CPUID does not enumerate the MSR).
struct SpeculationFacts {
    bool md_clear = false;           // EDX[10]: VERW clears CPU buffers
    bool ibrs_ibpb = false;          // EDX[26]: IA32_SPEC_CTRL.IBRS and IA32_PRED_CMD
    bool stibp = false;              // EDX[27]
    bool l1d_flush = false;          // EDX[28]: IA32_FLUSH_CMD
    bool has_arch_capabilities = false;  // EDX[29]
    bool ssbd = false;               // EDX[31]
    bool rtm = false;                // EBX[11]: TSX, for TAA
    std::uint64_t arch_capabilities = 0;
};

SpeculationFacts speculation_facts(const CpuidSource& cpu, std::uint64_t arch_capabilities);

struct SpeculationPlan {
    bool flush_l1d_before_entry = false;
    bool verw_before_entry = false;
    bool l1tf_unmitigated = false;  // affected, but no IA32_FLUSH_CMD to flush with
    bool mds_unmitigated = false;   // affected, but no MD_CLEAR microcode
    bool guest_spec_ctrl = false;   // IA32_SPEC_CTRL exists: the guest owns it, checkpoints carry it
    bool guest_pred_cmd = false;
    bool guest_flush_cmd = false;
    std::uint32_t guest_leaf7_edx = 0;     // the leaf 7 EDX bits of this list the guest sees
    std::uint64_t guest_arch_capabilities = 0;
};

SpeculationPlan plan_speculation(const SpeculationFacts& facts);

// The leaf 7 EDX bits this module decides (the rest of leaf 7 is cpuid_policy.cpp's).
inline constexpr std::uint32_t kLeaf7EdxSpeculation = (1u << 10) | (1u << 26) | (1u << 27) | (1u << 28) |
                                                      (1u << 29) | (1u << 31);

// One boot line: what runs before every VM entry, what the guest gets, what is not mitigated.
void report_speculation(Writer& out, const SpeculationFacts& facts, const SpeculationPlan& plan);

}  // namespace tandem::x86
