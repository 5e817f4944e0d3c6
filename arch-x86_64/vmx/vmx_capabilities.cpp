#include "arch-x86_64/vmx/vmx_capabilities.hpp"

namespace tandem::x86 {
namespace {
constexpr bool bit(std::uint64_t v, unsigned n) { return (v >> n) & 1; }
// Control MSRs: bits 63:32 say which controls may be 1 (SDM Vol. 3D §A.3).
constexpr bool allowed1(std::uint64_t ctls, unsigned control_bit) { return bit(ctls, 32 + control_bit); }

// IA32_FEATURE_CONTROL (SDM Vol. 4 Table 2-2).
constexpr unsigned kFcLock = 0, kFcVmxOutsideSmx = 2;
// IA32_VMX_BASIC (SDM Vol. 3D §A.1).
constexpr unsigned kBasic32BitAddresses = 48, kBasicTrueControls = 55;
// Pin-based controls (SDM Vol. 3C §26.6.1).
constexpr unsigned kPinPreemptionTimer = 6;
// Primary processor-based controls (§26.6.2, Table 26-6).
constexpr unsigned kProcIoBitmaps = 25, kProcMsrBitmaps = 28, kProcSecondary = 31;
// Secondary processor-based controls (§26.6.2, Table 26-7).
constexpr unsigned kProc2Ept = 1, kProc2Vpid = 5, kProc2Unrestricted = 7, kProc2Pml = 17;
// IA32_VMX_EPT_VPID_CAP (SDM Vol. 3D §A.10).
constexpr unsigned kEptWalk4 = 6, kEptWb = 14, kEpt2M = 16, kEpt1G = 17, kEptInvept = 20, kEptAd = 21,
                   kEptInveptSingle = 25, kEptInveptAll = 26, kInvvpid = 32;
}  // namespace

VmxCapabilities decode_vmx_capabilities(const VmxCapabilityMsrs& m) {
    VmxCapabilities c;
    c.vmx = m.cpuid_vmx;
    if (!c.vmx) return c;
    c.feature_control_locked = bit(m.feature_control, kFcLock);
    c.vmx_enabled_by_firmware = bit(m.feature_control, kFcVmxOutsideSmx);
    c.vmcs_revision = static_cast<std::uint32_t>(m.basic & 0x7fffffff);
    c.vmcs_size = static_cast<std::uint32_t>((m.basic >> 32) & 0x1fff);
    c.vmcs_write_back = ((m.basic >> 50) & 0xf) == 6;
    c.vmcs_32bit_addresses = bit(m.basic, kBasic32BitAddresses);
    c.true_controls = bit(m.basic, kBasicTrueControls);
    c.preemption_timer = allowed1(m.pinbased, kPinPreemptionTimer);
    c.preemption_timer_shift = static_cast<unsigned>(m.misc & 0x1f);
    c.io_bitmaps = allowed1(m.procbased, kProcIoBitmaps);
    c.msr_bitmaps = allowed1(m.procbased, kProcMsrBitmaps);
    c.secondary_controls = allowed1(m.procbased, kProcSecondary);
    if (!c.secondary_controls) return c;
    c.ept = allowed1(m.procbased2, kProc2Ept);
    c.vpid = allowed1(m.procbased2, kProc2Vpid);
    c.unrestricted_guest = allowed1(m.procbased2, kProc2Unrestricted);
    c.pml = allowed1(m.procbased2, kProc2Pml);
    if (c.ept) {
        c.ept_walk_4 = bit(m.ept_vpid_cap, kEptWalk4);
        c.ept_write_back = bit(m.ept_vpid_cap, kEptWb);
        c.ept_2m_pages = bit(m.ept_vpid_cap, kEpt2M);
        c.ept_1g_pages = bit(m.ept_vpid_cap, kEpt1G);
        c.ept_accessed_dirty = bit(m.ept_vpid_cap, kEptAd);
        c.invept = bit(m.ept_vpid_cap, kEptInvept);
        c.invept_single_context = bit(m.ept_vpid_cap, kEptInveptSingle);
        c.invept_all_contexts = bit(m.ept_vpid_cap, kEptInveptAll);
    } else {
        c.pml = false;  // PML is an EPT feature (SDM Vol. 3C §29.3.6)
    }
    if (c.vpid) c.invvpid = bit(m.ept_vpid_cap, kInvvpid);
    return c;
}

VmxVerdict judge_vmx(const VmxCapabilities& c) {
    VmxVerdict v;
    if (!c.vmx) {
        v.refusal = "VT-x not available: CPUID.1:ECX.VMX[bit 5] is 0, so this processor does not offer Intel VT-x "
                    "(under QEMU: TCG has no VMX; use KVM on an Intel host with nested VT-x, or Bochs)";
    } else if (c.feature_control_locked && !c.vmx_enabled_by_firmware) {
        v.refusal = "VT-x not available: the firmware locked IA32_FEATURE_CONTROL with VMX outside SMX disabled; "
                    "enable Intel Virtualization Technology in the BIOS/UEFI setup";
    } else if (c.vmcs_32bit_addresses || !c.vmcs_write_back) {
        v.refusal = "VT-x not usable: IA32_VMX_BASIC requires 32-bit VMCS addresses or a non-write-back VMCS";
    } else if (!c.io_bitmaps || !c.msr_bitmaps) {
        v.refusal = "VT-x not usable: I/O or MSR bitmaps cannot be enabled (IA32_VMX_PROCBASED_CTLS bits 25, 28)";
    } else if (!c.secondary_controls) {
        v.refusal = "EPT not supported: the processor has no secondary processor-based VM-execution controls "
                    "(IA32_VMX_PROCBASED_CTLS bit 63), hence no EPT; tandem needs EPT to isolate the guest";
    } else if (!c.ept) {
        v.refusal = "EPT not supported: IA32_VMX_PROCBASED_CTLS2 does not allow 'enable EPT' (bit 33); "
                    "tandem needs EPT to isolate the guest and track its memory";
    } else if (!c.ept_walk_4 || !c.ept_write_back) {
        v.refusal = "EPT not supported: IA32_VMX_EPT_VPID_CAP lacks the 4-level walk (bit 6) or write-back "
                    "paging structures (bit 14)";
    } else if (!c.invept || !(c.invept_single_context || c.invept_all_contexts)) {
        v.refusal = "EPT not supported: no INVEPT with single- or all-context invalidation "
                    "(IA32_VMX_EPT_VPID_CAP bits 20, 25, 26)";
    } else if (!c.unrestricted_guest) {
        v.refusal = "unrestricted guest not supported: IA32_VMX_PROCBASED_CTLS2 bit 39 is 0; tandem starts "
                    "guests in real and protected mode, which needs it";
    } else if (!c.preemption_timer) {
        v.refusal = "VMX-preemption timer not supported: IA32_VMX_PINBASED_CTLS bit 38 is 0; tandem's epochs "
                    "and guest timers run on it";
    } else {
        v.usable = true;
    }
    v.dirty = c.pml && c.ept_accessed_dirty ? DirtyTracking::pml
              : c.ept_accessed_dirty        ? DirtyTracking::ad_bits
                                            : DirtyTracking::write_protect;
    return v;
}

void report_vmx(Writer& out, const VmxCapabilityMsrs& m, const VmxCapabilities& c, const VmxVerdict& v) {
    if (c.vmx) {
        println(out,
                "vmx: msrs feature_control={} basic={} pinbased={} procbased={} procbased2={} exit={} entry={} "
                "misc={} ept_vpid_cap={} cr0_fixed0={} cr0_fixed1={} cr4_fixed0={} cr4_fixed1={}",
                hex(m.feature_control), hex(m.basic), hex(m.pinbased), hex(m.procbased), hex(m.procbased2),
                hex(m.exit), hex(m.entry), hex(m.misc), hex(m.ept_vpid_cap), hex(m.cr0_fixed0), hex(m.cr0_fixed1),
                hex(m.cr4_fixed0), hex(m.cr4_fixed1));
    }
    println(out, "vmx: VT-x {}, EPT {}, EPT A/D {}, PML {}, VPID {}, unrestricted guest {}, preemption timer {}",
            YesNo{c.vmx}, YesNo{c.ept}, YesNo{c.ept_accessed_dirty}, YesNo{c.pml}, YesNo{c.vpid},
            YesNo{c.unrestricted_guest}, YesNo{c.preemption_timer});
    if (c.vmx) {
        println(out,
                "vmx: VMCS revision {} size {}, true controls {}, EPT 4-level {} write-back {} 2M pages {} 1G pages {}, "
                "INVEPT {} INVVPID {}, preemption timer rate TSC/{}",
                hex(c.vmcs_revision), c.vmcs_size, YesNo{c.true_controls}, YesNo{c.ept_walk_4},
                YesNo{c.ept_write_back}, YesNo{c.ept_2m_pages}, YesNo{c.ept_1g_pages}, YesNo{c.invept},
                YesNo{c.invvpid}, 1u << c.preemption_timer_shift);
    }
    if (v.usable) {
        println(out, "vmx: usable; dirty tracking available: {}",
                v.dirty == DirtyTracking::pml       ? "PML (page-modification logging)"
                : v.dirty == DirtyTracking::ad_bits ? "EPT dirty bits (no PML)"
                                                    : "EPT write-protection (no EPT A/D bits)");
    }
}

}  // namespace tandem::x86
