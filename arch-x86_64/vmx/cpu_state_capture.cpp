#include "arch-x86_64/vmx/cpu_state_capture.hpp"

#include "arch-x86_64/vmx/vmx_controls.hpp"

namespace tandem::x86 {
namespace {

namespace keys = checkpoint::cpu_state_keys;

// The VMCS fields that make up the guest's state, copied as they are.
constexpr VmcsField kGuestFields[] = {
    vmcs::guest_es_selector, vmcs::guest_cs_selector, vmcs::guest_ss_selector, vmcs::guest_ds_selector,
    vmcs::guest_fs_selector, vmcs::guest_gs_selector, vmcs::guest_ldtr_selector, vmcs::guest_tr_selector,
    vmcs::guest_debugctl, vmcs::guest_pat, vmcs::guest_efer,
    vmcs::guest_pdpte0, vmcs::guest_pdpte1, vmcs::guest_pdpte2, vmcs::guest_pdpte3,
    vmcs::guest_es_limit, vmcs::guest_cs_limit, vmcs::guest_ss_limit, vmcs::guest_ds_limit,
    vmcs::guest_fs_limit, vmcs::guest_gs_limit, vmcs::guest_ldtr_limit, vmcs::guest_tr_limit,
    vmcs::guest_gdtr_limit, vmcs::guest_idtr_limit,
    vmcs::guest_es_access, vmcs::guest_cs_access, vmcs::guest_ss_access, vmcs::guest_ds_access,
    vmcs::guest_fs_access, vmcs::guest_gs_access, vmcs::guest_ldtr_access, vmcs::guest_tr_access,
    vmcs::guest_interruptibility, vmcs::guest_activity_state, vmcs::guest_sysenter_cs,
    vmcs::guest_cr3,
    vmcs::guest_es_base, vmcs::guest_cs_base, vmcs::guest_ss_base, vmcs::guest_ds_base,
    vmcs::guest_fs_base, vmcs::guest_gs_base, vmcs::guest_ldtr_base, vmcs::guest_tr_base,
    vmcs::guest_gdtr_base, vmcs::guest_idtr_base, vmcs::guest_dr7, vmcs::guest_rsp, vmcs::guest_rip,
    vmcs::guest_rflags, vmcs::guest_pending_debug_exceptions, vmcs::guest_sysenter_esp,
    vmcs::guest_sysenter_eip,
    // Control fields that are the guest's: its view of CR0/CR4, and an event tandem has queued
    // for it but not yet delivered.
    vmcs::cr0_read_shadow, vmcs::cr4_read_shadow,
    vmcs::entry_interruption_info, vmcs::entry_exception_error_code, vmcs::entry_instruction_length,
};
// CR0 and CR4 are captured too, but restored with this processor's fixed bits.
constexpr VmcsField kCrFields[] = {vmcs::guest_cr0, vmcs::guest_cr4};
// The entry control that says whether the guest is in IA-32e mode.
constexpr std::uint32_t kIa32eKey = encoding(vmcs::entry_controls);

// MSRs whose guest value lives in the hardware while the guest runs (access_bitmaps.cpp).
constexpr std::uint32_t kMsrs[] = {0xc0000081 /*STAR*/, 0xc0000082 /*LSTAR*/,          0xc0000083 /*CSTAR*/,
                                   0xc0000084 /*FMASK*/, 0xc0000102 /*KERNEL_GS_BASE*/, 0xc0000103 /*TSC_AUX*/,
                                   0x48 /*SPEC_CTRL*/};
constexpr unsigned kTscAuxIndex = 5;
constexpr unsigned kSpecCtrlIndex = 6;

// Whether this processor has the MSR at `index` of kMsrs (the others every x86-64 processor has).
bool platform_has(const CpuStatePlatform& platform, unsigned index) {
    if (index == kTscAuxIndex) return platform.has_tsc_aux();
    if (index == kSpecCtrlIndex) return platform.has_spec_ctrl();
    return true;
}
constexpr unsigned kDebugRegisters[] = {0, 1, 2, 3, 6};

}  // namespace

Status capture_cpu_state(const VmcsAccess& vmcs, const GuestRegisters& regs, CpuStatePlatform& platform,
                         checkpoint::CpuState& out) {
    out.clear();
    for (VmcsField f : kGuestFields) {
        if (auto s = out.set(encoding(f), vmcs.read(f)); !s) return s;
    }
    for (VmcsField f : kCrFields) {
        if (auto s = out.set(encoding(f), vmcs.read(f)); !s) return s;
    }
    if (auto s = out.set(kIa32eKey, vmcs.read(vmcs::entry_controls) & entry_ctl::ia32e_mode_guest); !s) return s;
    if (auto s = out.set(keys::guest_tsc, platform.read_tsc() + vmcs.read(vmcs::tsc_offset)); !s) return s;
    for (unsigned i = 0; i < 16; ++i) {
        if (i == static_cast<unsigned>(Gpr::rsp)) continue;  // RSP is in the VMCS
        if (auto s = out.set(keys::gpr_base + i, regs.gpr[i]); !s) return s;
    }
    if (auto s = out.set(keys::cr2, regs.cr2); !s) return s;
    for (unsigned dr : kDebugRegisters) {
        if (auto s = out.set(keys::dr_base + dr, platform.read_debug_register(dr)); !s) return s;
    }
    for (unsigned i = 0; i < sizeof(kMsrs) / sizeof(kMsrs[0]); ++i) {
        if (!platform_has(platform, i)) continue;
        if (auto s = out.set(keys::msr_base + i, platform.read_msr(kMsrs[i])); !s) return s;
    }
    std::uint64_t xcr0 = platform.read_xcr0();
    if (auto s = out.set(keys::xcr0, xcr0); !s) return s;
    if (xcr0 != 0) {
        std::uint32_t size = platform.save_extended_state(out.xsave_buffer());
        if (size == 0) return Error::of("cpu state: XSAVE failed or its area is too small", xcr0);
        out.set_xsave_size(size);
    }
    return success();
}

Status restore_cpu_state(const checkpoint::CpuState& state, VmcsAccess& vmcs, GuestRegisters& regs,
                         CpuStatePlatform& platform, const CrPolicy& cr) {
    // Check completeness before touching anything.
    for (VmcsField f : kGuestFields) {
        if (!state.get(encoding(f))) return Error::of("cpu state: missing VMCS field", encoding(f));
    }
    for (VmcsField f : kCrFields) {
        if (!state.get(encoding(f))) return Error::of("cpu state: missing VMCS field", encoding(f));
    }
    for (std::uint32_t key : {kIa32eKey, keys::guest_tsc, keys::cr2, keys::xcr0}) {
        if (!state.get(key)) return Error::of("cpu state: missing field", key);
    }
    for (unsigned i = 0; i < 16; ++i) {
        if (i != static_cast<unsigned>(Gpr::rsp) && !state.get(keys::gpr_base + i)) {
            return Error::of("cpu state: missing general-purpose register", i);
        }
    }
    std::uint64_t xcr0 = *state.get(keys::xcr0);
    if (xcr0 != 0 && state.xsave().empty()) return Error::of("cpu state: XCR0 set but no XSAVE image");
    // Checked before anything is written: an image XRSTOR would fault on halts the host (issue 14).
    if (xcr0 != 0) {
        if (auto s = check_xsave_image(state.xsave(), platform.xsave_layout()); !s) return s;
    }

    for (VmcsField f : kGuestFields) vmcs.write(f, *state.get(encoding(f)));
    vmcs.write(vmcs::guest_cr0, effective_cr(*state.get(encoding(vmcs::guest_cr0)), cr.cr0_must_be_one, cr.cr0_may_be_one));
    vmcs.write(vmcs::guest_cr4, effective_cr(*state.get(encoding(vmcs::guest_cr4)), cr.cr4_must_be_one, cr.cr4_may_be_one));
    std::uint64_t entry = vmcs.read(vmcs::entry_controls) & ~static_cast<std::uint64_t>(entry_ctl::ia32e_mode_guest);
    vmcs.write(vmcs::entry_controls, entry | (*state.get(kIa32eKey) & entry_ctl::ia32e_mode_guest));
    vmcs.write(vmcs::tsc_offset, *state.get(keys::guest_tsc) - platform.read_tsc());

    for (unsigned i = 0; i < 16; ++i) {
        if (i == static_cast<unsigned>(Gpr::rsp)) continue;
        regs.gpr[i] = state.get(keys::gpr_base + i).value_or(0);
    }
    regs.cr2 = *state.get(keys::cr2);
    for (unsigned dr : kDebugRegisters) platform.write_debug_register(dr, state.get(keys::dr_base + dr).value_or(0));
    for (unsigned i = 0; i < sizeof(kMsrs) / sizeof(kMsrs[0]); ++i) {
        if (!platform_has(platform, i)) continue;
        if (auto v = state.get(keys::msr_base + i)) platform.write_msr(kMsrs[i], *v);
    }
    if (xcr0 != 0) {
        platform.restore_extended_state(state.xsave());
        if (!platform.write_xcr0(xcr0)) return Error::of("cpu state: this processor refuses the guest's XCR0", xcr0);
    }
    return success();
}

}  // namespace tandem::x86
