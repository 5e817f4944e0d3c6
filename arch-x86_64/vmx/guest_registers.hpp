// The guest registers the VMCS does not hold: general-purpose registers (RSP and RIP are in
// the VMCS) and CR2. vm_entry.S saves and loads them around every VM entry and exit; the
// offsets there must match this layout.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tandem::x86 {

// Register numbers as x86 encodes them (ModRM, and the exit qualification's GPR fields).
enum class Gpr : std::uint8_t { rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8, r9, r10, r11, r12, r13, r14, r15 };

struct GuestRegisters {
    std::uint64_t gpr[16];  // indexed by Gpr; the rsp slot is unused (RSP lives in the VMCS)
    std::uint64_t cr2;

    std::uint64_t& operator[](Gpr r) { return gpr[static_cast<std::size_t>(r)]; }
    std::uint64_t operator[](Gpr r) const { return gpr[static_cast<std::size_t>(r)]; }
};
static_assert(sizeof(GuestRegisters) == 17 * 8, "vm_entry.S uses these offsets");
static_assert(offsetof(GuestRegisters, cr2) == 128);

const char* gpr_name(Gpr r);

}  // namespace tandem::x86
