// The guest's register state at its first VM entry, for each way tandem starts a guest: real
// mode (unrestricted guest), 32-bit protected mode with paging off (unrestricted guest), and
// 64-bit long mode with identity paging. Writes the VMCS guest-state area (Intel SDM Vol. 3C
// §25.4) so that it passes the VM-entry checks of §27.3.1.
#pragma once

#include <cstdint>

#include "arch-x86_64/vmx/guest_registers.hpp"
#include "arch-x86_64/vmx/vmcs_access.hpp"
#include "arch-x86_64/vmx/vmx_capabilities.hpp"
#include "guest-boot/test_guest_boot.hpp"

namespace tandem::x86 {

struct GuestEntry {
    guest_boot::EntryMode mode = guest_boot::EntryMode::long64;
    std::uint64_t rip = 0;           // long/protected: the entry address; real: offset in segment
    std::uint16_t real_segment = 0;  // real mode: CS = DS = ES = SS
    std::uint64_t rsp = 0;
    std::uint64_t rdi = 0;
    std::uint64_t rsi = 0;
    std::uint64_t cr3 = 0;           // long mode: the guest's PML4
};

// The guest/host masks and read shadows that keep VMX's fixed CR0/CR4 bits from the guest's
// view (SDM Vol. 3C §26.6.6). With unrestricted guest, CR0.PE and CR0.PG are the guest's own.
struct CrPolicy {
    std::uint64_t cr0_must_be_one, cr0_may_be_one;
    std::uint64_t cr4_must_be_one, cr4_may_be_one;
    std::uint64_t cr0_mask, cr4_mask;
};
CrPolicy cr_policy(const VmxCapabilityMsrs& msrs);

// The value the CPU runs with for a guest-chosen CR0/CR4 (the shadow holds what the guest wrote).
constexpr std::uint64_t effective_cr(std::uint64_t guest_value, std::uint64_t must_be_one, std::uint64_t may_be_one) {
    return (guest_value | must_be_one) & may_be_one;
}

void write_guest_entry_state(VmcsAccess& vmcs, GuestRegisters& regs, const GuestEntry& entry, const CrPolicy& cr);

}  // namespace tandem::x86
