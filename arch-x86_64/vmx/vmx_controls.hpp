// The VM-execution, VM-exit and VM-entry controls tandem runs a guest with, computed from the
// capability MSRs (Intel SDM Vol. 3D Appendix A.3-A.5): a control tandem requires must be
// allowed to be 1, an optional one is used only where allowed, and every bit the processor
// forces to 1 is set. No control word is a hard-coded mask.
#pragma once

#include <cstdint>

#include "arch-x86_64/vmx/vmx_capabilities.hpp"
#include "hypervisor/util/result.hpp"

namespace tandem::x86 {

// Control bit positions (SDM Vol. 3C §26.6-§26.8).
namespace pin {
inline constexpr std::uint32_t external_interrupt_exiting = 1u << 0;
inline constexpr std::uint32_t nmi_exiting = 1u << 3;
inline constexpr std::uint32_t virtual_nmis = 1u << 5;
inline constexpr std::uint32_t preemption_timer = 1u << 6;
}  // namespace pin
namespace proc {
inline constexpr std::uint32_t interrupt_window_exiting = 1u << 2;
inline constexpr std::uint32_t tsc_offsetting = 1u << 3;
inline constexpr std::uint32_t hlt_exiting = 1u << 7;
inline constexpr std::uint32_t invlpg_exiting = 1u << 9;
inline constexpr std::uint32_t mwait_exiting = 1u << 10;
inline constexpr std::uint32_t rdpmc_exiting = 1u << 11;
inline constexpr std::uint32_t rdtsc_exiting = 1u << 12;
inline constexpr std::uint32_t cr3_load_exiting = 1u << 15;
inline constexpr std::uint32_t cr3_store_exiting = 1u << 16;
inline constexpr std::uint32_t cr8_load_exiting = 1u << 19;
inline constexpr std::uint32_t cr8_store_exiting = 1u << 20;
inline constexpr std::uint32_t nmi_window_exiting = 1u << 22;
inline constexpr std::uint32_t mov_dr_exiting = 1u << 23;
inline constexpr std::uint32_t unconditional_io_exiting = 1u << 24;
inline constexpr std::uint32_t use_io_bitmaps = 1u << 25;
inline constexpr std::uint32_t monitor_trap_flag = 1u << 27;
inline constexpr std::uint32_t use_msr_bitmaps = 1u << 28;
inline constexpr std::uint32_t monitor_exiting = 1u << 29;
inline constexpr std::uint32_t pause_exiting = 1u << 30;
inline constexpr std::uint32_t activate_secondary = 1u << 31;
}  // namespace proc
namespace proc2 {
inline constexpr std::uint32_t enable_ept = 1u << 1;
inline constexpr std::uint32_t enable_rdtscp = 1u << 3;
inline constexpr std::uint32_t enable_vpid = 1u << 5;
inline constexpr std::uint32_t wbinvd_exiting = 1u << 6;
inline constexpr std::uint32_t unrestricted_guest = 1u << 7;
inline constexpr std::uint32_t enable_invpcid = 1u << 12;
inline constexpr std::uint32_t enable_pml = 1u << 17;
inline constexpr std::uint32_t enable_xsaves = 1u << 20;
}  // namespace proc2
namespace exit_ctl {
inline constexpr std::uint32_t save_debug_controls = 1u << 2;
inline constexpr std::uint32_t host_address_space_size = 1u << 9;
inline constexpr std::uint32_t acknowledge_interrupt = 1u << 15;
inline constexpr std::uint32_t save_pat = 1u << 18;
inline constexpr std::uint32_t load_pat = 1u << 19;
inline constexpr std::uint32_t save_efer = 1u << 20;
inline constexpr std::uint32_t load_efer = 1u << 21;
inline constexpr std::uint32_t save_preemption_timer = 1u << 22;
}  // namespace exit_ctl
namespace entry_ctl {
inline constexpr std::uint32_t load_debug_controls = 1u << 2;
inline constexpr std::uint32_t ia32e_mode_guest = 1u << 9;
inline constexpr std::uint32_t load_pat = 1u << 14;
inline constexpr std::uint32_t load_efer = 1u << 15;
}  // namespace entry_ctl

// One control word from its capability MSR: bits 31:0 of the MSR are the allowed 0-settings
// (a 1 there forces the control to 1), bits 63:32 the allowed 1-settings.
// Fails, naming the first required bit that cannot be 1, when `required` is not allowed.
Result<std::uint32_t> adjust_controls(std::uint64_t capability_msr, std::uint32_t required, std::uint32_t optional);

struct VmxControls {
    std::uint32_t pin = 0;
    std::uint32_t primary = 0;
    std::uint32_t secondary = 0;
    std::uint32_t exit = 0;
    std::uint32_t entry = 0;  // without ia32e_mode_guest: that depends on the guest's entry mode
};

struct ControlWishes {
    bool pml = false;  // PML dirty logging (DESIGN §3)
};

// The controls tandem runs every guest with. On failure the error names the control word.
Result<VmxControls> compute_vmx_controls(const VmxCapabilityMsrs& msrs, ControlWishes wishes);

}  // namespace tandem::x86
