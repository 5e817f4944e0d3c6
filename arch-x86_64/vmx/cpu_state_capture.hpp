// Capturing the guest's vCPU into a checkpoint::CpuState and restoring it (DESIGN §3 step 3):
// every VMCS guest-state field (Intel SDM Vol. 3C §25.4), the control fields that carry guest
// state (CR0/CR4 read shadows, IA-32e mode, a pending event injection), the guest's TSC, the
// general-purpose registers and CR2, XCR0 and the XSAVE image (the components the guest may
// enable: xcr0.hpp), the debug registers and the MSRs the guest owns in hardware (SYSCALL and
// KERNEL_GS_BASE: access_bitmaps.cpp).
// Portable: the instructions come through CpuStatePlatform.
#pragma once

#include <cstdint>
#include <span>

#include "arch-x86_64/vmx/guest_entry.hpp"
#include "arch-x86_64/vmx/guest_registers.hpp"
#include "arch-x86_64/vmx/vmcs_access.hpp"
#include "arch-x86_64/vmx/xsave_layout.hpp"
#include "replication/checkpoint/cpu_state.hpp"

namespace tandem::x86 {

class CpuStatePlatform {
public:
    virtual std::uint64_t read_tsc() const = 0;
    virtual std::uint64_t read_xcr0() const = 0;  // 0 when the CPU has no XSAVE
    virtual bool write_xcr0(std::uint64_t value) = 0;
    // The XSAVE area kept for the guest (xsave_layout.hpp): the components saved and restored
    // (guest_xcr0) and the area's size.
    virtual const XsaveLayout& xsave_layout() const = 0;
    // XSAVE of the components xsave_layout().guest_xcr0 names (whatever the guest's XCR0 enables:
    // the registers hold state regardless) into a 64-byte-aligned area, leaving XCR0 as it was;
    // returns the bytes used (0 if the area is too small or XSAVE is absent). Restore likewise.
    virtual std::uint32_t save_extended_state(std::span<std::uint8_t> area) = 0;
    virtual void restore_extended_state(std::span<const std::uint8_t> area) = 0;
    virtual std::uint64_t read_msr(std::uint32_t msr) const = 0;
    virtual void write_msr(std::uint32_t msr, std::uint64_t value) = 0;
    virtual bool has_tsc_aux() const = 0;
    // IA32_SPEC_CTRL exists and belongs to the guest (speculation.hpp): checkpoints carry it.
    virtual bool has_spec_ctrl() const = 0;
    virtual std::uint64_t read_debug_register(unsigned n) const = 0;  // 0-3, 6
    virtual void write_debug_register(unsigned n, std::uint64_t value) = 0;

protected:
    ~CpuStatePlatform() = default;
};

Status capture_cpu_state(const VmcsAccess& vmcs, const GuestRegisters& regs, CpuStatePlatform& platform,
                         checkpoint::CpuState& out);

// Restores a captured state into the current VMCS and the hardware. The guest's TSC continues
// from the captured value (guest time never runs backwards for the restored guest); CR0/CR4 get
// this processor's VMX fixed bits. Fails, changing nothing, if a required field is missing.
Status restore_cpu_state(const checkpoint::CpuState& state, VmcsAccess& vmcs, GuestRegisters& regs,
                         CpuStatePlatform& platform, const CrPolicy& cr);

}  // namespace tandem::x86
