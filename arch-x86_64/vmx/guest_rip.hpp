// Where the guest continues after an instruction tandem completed for it: RIP plus the
// instruction's length, as the code segment's mode counts. Outside 64-bit mode the instruction
// pointer is EIP and wraps at 4 GiB; VM entry refuses a RIP with any of bits 63:32 set there (Intel
// SDM Vol. 3C §27.3.1.4). Completing an instruction also ends blocking by STI and MOV SS (§26.4.2).
#pragma once

#include <cstdint>

#include "arch-x86_64/vmx/vmcs_access.hpp"
#include "arch-x86_64/vmx/vmcs_fields.hpp"

namespace tandem::x86 {

inline void complete_guest_instruction(VmcsAccess& vmcs, std::uint64_t length) {
    constexpr std::uint64_t kEferLma = 1ull << 10;
    constexpr unsigned kCsLongMode = 13;  // access-rights bit L
    std::uint64_t rip = vmcs.read(vmcs::guest_rip) + length;
    bool code64 = (vmcs.read(vmcs::guest_efer) & kEferLma) && ((vmcs.read(vmcs::guest_cs_access) >> kCsLongMode) & 1);
    vmcs.write(vmcs::guest_rip, code64 ? rip : rip & 0xffff'ffffull);
    std::uint64_t interruptibility = vmcs.read(vmcs::guest_interruptibility);
    if (interruptibility & 3) vmcs.write(vmcs::guest_interruptibility, interruptibility & ~3ull);
}

}  // namespace tandem::x86
