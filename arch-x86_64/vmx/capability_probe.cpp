#include "arch-x86_64/vmx/capability_probe.hpp"

#include "arch-x86_64/cpu/intrinsics.hpp"
#include "arch-x86_64/cpu/msr.hpp"

namespace tandem::x86 {
namespace {
std::uint64_t read(Msr m) { return rdmsr(static_cast<std::uint32_t>(m)); }
}  // namespace

VmxCapabilityMsrs read_vmx_capability_msrs() {
    VmxCapabilityMsrs m;
    m.cpuid_vmx = (cpuid(1).ecx >> 5) & 1;
    if (!m.cpuid_vmx) return m;
    m.feature_control = read(Msr::ia32_feature_control);
    m.basic = read(Msr::ia32_vmx_basic);
    // With IA32_VMX_BASIC[55] the TRUE_ MSRs report which default-1 controls may be 0
    // (SDM Vol. 3D §A.2); they supersede the plain ones for the allowed settings.
    bool true_ctls = (m.basic >> 55) & 1;
    m.pinbased = read(true_ctls ? Msr::ia32_vmx_true_pinbased_ctls : Msr::ia32_vmx_pinbased_ctls);
    m.procbased = read(true_ctls ? Msr::ia32_vmx_true_procbased_ctls : Msr::ia32_vmx_procbased_ctls);
    m.exit = read(true_ctls ? Msr::ia32_vmx_true_exit_ctls : Msr::ia32_vmx_exit_ctls);
    m.entry = read(true_ctls ? Msr::ia32_vmx_true_entry_ctls : Msr::ia32_vmx_entry_ctls);
    m.misc = read(Msr::ia32_vmx_misc);
    m.cr0_fixed0 = read(Msr::ia32_vmx_cr0_fixed0);
    m.cr0_fixed1 = read(Msr::ia32_vmx_cr0_fixed1);
    m.cr4_fixed0 = read(Msr::ia32_vmx_cr4_fixed0);
    m.cr4_fixed1 = read(Msr::ia32_vmx_cr4_fixed1);
    // IA32_VMX_PROCBASED_CTLS2 exists only if the secondary controls may be activated (§A.3.3).
    if ((m.procbased >> 63) & 1) {
        m.procbased2 = read(Msr::ia32_vmx_procbased_ctls2);
        // IA32_VMX_EPT_VPID_CAP exists only if EPT or VPID may be enabled (§A.10).
        if (((m.procbased2 >> 33) & 1) || ((m.procbased2 >> 37) & 1)) m.ept_vpid_cap = read(Msr::ia32_vmx_ept_vpid_cap);
    }
    return m;
}

}  // namespace tandem::x86
