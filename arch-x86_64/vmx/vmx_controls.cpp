#include "arch-x86_64/vmx/vmx_controls.hpp"

namespace tandem::x86 {

Result<std::uint32_t> adjust_controls(std::uint64_t capability_msr, std::uint32_t required, std::uint32_t optional) {
    auto must_be_one = static_cast<std::uint32_t>(capability_msr);
    auto may_be_one = static_cast<std::uint32_t>(capability_msr >> 32);
    std::uint32_t missing = required & ~may_be_one;
    if (missing != 0) {
        std::uint32_t lowest = missing & (~missing + 1);
        unsigned bit = 0;
        while ((lowest >> bit) != 1) ++bit;
        return Error::of("required VMX control cannot be set; bit", bit);
    }
    return must_be_one | required | (optional & may_be_one);
}

Result<VmxControls> compute_vmx_controls(const VmxCapabilityMsrs& m, ControlWishes wishes) {
    VmxControls c;
    // Pin-based: every external interrupt and NMI exits to tandem (the guest never sees the
    // host's interrupts); the preemption timer drives epochs and guest timers.
    auto pin_ctls = adjust_controls(m.pinbased, pin::external_interrupt_exiting | pin::nmi_exiting | pin::preemption_timer,
                                    pin::virtual_nmis);
    if (!pin_ctls) return Error::of("pin-based controls: required control cannot be set; bit", pin_ctls.error().value);
    c.pin = *pin_ctls;

    // Primary: exit on HLT, MWAIT/MONITOR, RDPMC; I/O and MSRs through deny-by-default bitmaps;
    // TSC offsetting so guest time can be kept monotonic across failover.
    auto primary = adjust_controls(m.procbased,
                                   proc::hlt_exiting | proc::mwait_exiting | proc::rdpmc_exiting |
                                       proc::monitor_exiting | proc::use_io_bitmaps | proc::use_msr_bitmaps |
                                       proc::tsc_offsetting | proc::activate_secondary,
                                   0);
    if (!primary) return Error::of("primary processor-based controls: required control cannot be set; bit",
                                   primary.error().value);
    c.primary = *primary;

    // Secondary: EPT and unrestricted guest are required; VPID saves TLB flushes; RDTSCP,
    // INVPCID and XSAVES are enabled where the CPU has them (else those instructions #UD, and
    // CPUID hides them from the guest accordingly); WBINVD exits so a guest cannot stall caches.
    std::uint32_t required2 = proc2::enable_ept | proc2::unrestricted_guest | (wishes.pml ? proc2::enable_pml : 0u);
    auto secondary = adjust_controls(m.procbased2, required2,
                                     proc2::enable_vpid | proc2::enable_rdtscp | proc2::enable_invpcid |
                                         proc2::enable_xsaves | proc2::wbinvd_exiting);
    if (!secondary) return Error::of("secondary processor-based controls: required control cannot be set; bit",
                                     secondary.error().value);
    c.secondary = *secondary;

    auto exit = adjust_controls(m.exit,
                                exit_ctl::host_address_space_size | exit_ctl::acknowledge_interrupt |
                                    exit_ctl::save_debug_controls | exit_ctl::save_pat | exit_ctl::load_pat |
                                    exit_ctl::save_efer | exit_ctl::load_efer,
                                exit_ctl::save_preemption_timer);
    if (!exit) return Error::of("VM-exit controls: required control cannot be set; bit", exit.error().value);
    c.exit = *exit;

    auto entry = adjust_controls(m.entry, entry_ctl::load_debug_controls | entry_ctl::load_pat | entry_ctl::load_efer, 0);
    if (!entry) return Error::of("VM-entry controls: required control cannot be set; bit", entry.error().value);
    // The IA-32e mode bit may be forced to 1 by no CPU, but it is per guest: leave it to entry.
    c.entry = *entry & ~entry_ctl::ia32e_mode_guest;
    return c;
}

}  // namespace tandem::x86
