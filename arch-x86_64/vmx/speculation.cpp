#include "arch-x86_64/vmx/speculation.hpp"

namespace tandem::x86 {
namespace {

constexpr bool bit(std::uint32_t value, unsigned n) { return ((value >> n) & 1) != 0; }

const char* yes_no(bool value) { return value ? "yes" : "no"; }

}  // namespace

SpeculationFacts speculation_facts(const CpuidSource& cpu, std::uint64_t arch_capabilities) {
    SpeculationFacts f;
    if (cpu.cpuid(0, 0).eax < 7) return f;
    CpuidValues leaf7 = cpu.cpuid(7, 0);
    f.md_clear = bit(leaf7.edx, 10);
    f.ibrs_ibpb = bit(leaf7.edx, 26);
    f.stibp = bit(leaf7.edx, 27);
    f.l1d_flush = bit(leaf7.edx, 28);
    f.has_arch_capabilities = bit(leaf7.edx, 29);
    f.ssbd = bit(leaf7.edx, 31);
    f.rtm = bit(leaf7.ebx, 11);
    f.arch_capabilities = f.has_arch_capabilities ? arch_capabilities : 0;
    return f;
}

SpeculationPlan plan_speculation(const SpeculationFacts& f) {
    SpeculationPlan p;
    std::uint64_t caps = f.arch_capabilities;
    // L1TF: every Intel processor without RDCL_NO is affected; SKIP_L1DFL_VMENTRY says the flush
    // at VM entry is not needed (Linux: vmx_setup_l1d_flush, l1tf_vmx_mitigation).
    bool l1tf = (caps & (arch_cap::rdcl_no | arch_cap::skip_l1dfl_vmentry)) == 0;
    p.flush_l1d_before_entry = l1tf && f.l1d_flush;
    p.l1tf_unmitigated = l1tf && !f.l1d_flush;
    // MDS, and TAA where TSX is on (Linux: mds_select_mitigation, taa_select_mitigation).
    bool mds = (caps & arch_cap::mds_no) == 0;
    bool taa = f.rtm && (caps & arch_cap::taa_no) == 0;
    bool buffers = mds || taa;
    p.verw_before_entry = buffers && f.md_clear && !p.flush_l1d_before_entry;
    p.mds_unmitigated = buffers && !f.md_clear;
    p.guest_spec_ctrl = f.ibrs_ibpb || f.stibp || f.ssbd;
    p.guest_pred_cmd = f.ibrs_ibpb;
    p.guest_flush_cmd = f.l1d_flush;
    p.guest_leaf7_edx = (f.md_clear ? 1u << 10 : 0) | (f.ibrs_ibpb ? 1u << 26 : 0) | (f.stibp ? 1u << 27 : 0) |
                        (f.l1d_flush ? 1u << 28 : 0) | (f.has_arch_capabilities ? 1u << 29 : 0) |
                        (f.ssbd ? 1u << 31 : 0);
    p.guest_arch_capabilities = caps & arch_cap::guest_visible;
    return p;
}

void report_speculation(Writer& out, const SpeculationFacts& f, const SpeculationPlan& p) {
    const char* l1d = p.flush_l1d_before_entry ? "L1D flush"
                      : p.l1tf_unmitigated    ? "NONE for L1TF (affected, no IA32_FLUSH_CMD: update the microcode)"
                                              : "no L1D flush (not affected)";
    const char* verw = p.verw_before_entry ? ", VERW"
                       : p.mds_unmitigated ? ", NONE for MDS/TAA (affected, no MD_CLEAR: update the microcode)"
                       : p.flush_l1d_before_entry ? " (it clears the CPU buffers too)"
                                                  : ", no VERW (not affected by MDS/TAA)";
    println(out, "cpu: speculation: before every VM entry: {}{}; the guest gets IBRS/IBPB {} STIBP {} SSBD {} "
                 "L1D_FLUSH {} MD_CLEAR {} ARCH_CAPABILITIES {}; not assessed: MMIO stale data, RFDS, GDS, "
                 "return-stack refill at VM exit",
            l1d, verw, yes_no(f.ibrs_ibpb), yes_no(f.stibp), yes_no(f.ssbd), yes_no(f.l1d_flush), yes_no(f.md_clear),
            f.has_arch_capabilities ? "yes" : "no");
}

}  // namespace tandem::x86
