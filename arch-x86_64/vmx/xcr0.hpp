// Which XCR0 values XSETBV accepts, and which state components tandem lets its guest enable.
//
// XSETBV raises #GP(0) (Intel SDM Vol. 2D "XSETBV", Protected Mode Exceptions; Vol. 1 §13.3
// "Enabling the XSAVE Feature Set and XSAVE-Enabled Features") when the value
//   - sets a bit the processor does not support (CPUID.(EAX=0DH,ECX=0):EDX:EAX) or a reserved one;
//   - clears bit 0 (x87 state is always enabled);
//   - sets bit 2 (AVX) without bit 1 (SSE): XCR0[2:1] = 10b;
//   - sets exactly one of bits 4:3 (MPX BNDREGS, BNDCSR): XCR0[4:3] = 01b or 10b;
//   - sets any of bits 7:5 (AVX-512 opmask, ZMM_Hi256, Hi16_ZMM) without all three, or without
//     both SSE and AVX: XCR0[7:5] != 000b requires XCR0[7:5] = 111b and XCR0[2:1] = 11b;
//   - sets exactly one of bits 18:17 (AMX TILECFG, TILEDATA): XCR0[18:17] = 01b or 10b.
// (KVM's __kvm_set_xcr in arch/x86/kvm/x86.c applies the same list.) Checked before tandem
// executes XSETBV for a guest, so a bad value becomes #GP in the guest instead of a #GP in VMX
// root operation, which would halt the hypervisor.
#pragma once

#include <cstdint>

namespace tandem::x86 {

inline constexpr std::uint64_t kXcr0X87 = 1ull << 0, kXcr0Sse = 1ull << 1, kXcr0Avx = 1ull << 2;
inline constexpr std::uint64_t kXcr0Mpx = (1ull << 3) | (1ull << 4);                   // BNDREGS, BNDCSR
inline constexpr std::uint64_t kXcr0Avx512 = (1ull << 5) | (1ull << 6) | (1ull << 7);  // opmask, ZMM_Hi256, Hi16_ZMM
inline constexpr std::uint64_t kXcr0Pkru = 1ull << 9;
inline constexpr std::uint64_t kXcr0Amx = (1ull << 17) | (1ull << 18);  // TILECFG, TILEDATA

// The components a guest may enable: the ones tandem knows the rules for and can carry in a
// checkpoint. Whatever else the processor supports is hidden from the guest (CPUID leaves 7 and
// 0xD in cpuid_policy.cpp) and XSETBV refuses it:
//   - MPX (bits 4:3): hidden in leaf 7 already (deprecated; gone from processors since Ice Lake).
//   - AMX (bits 18:17): Linux enables it only with extended feature disable (CPUID.(0DH,1):
//     EAX[4], the IA32_XFD and IA32_XFD_ERR MSRs, #NM on first use), none of which tandem
//     virtualises; and it would add 8 KiB of tile data to every checkpoint. The XSAVE area and
//     the checkpoint bound (checkpoint::CpuState::kMaxXsave) are nonetheless sized for it, so
//     offering AMX later is a policy change here, not a format change.
//   - anything newer (APX, ...): its XSETBV rules are not checked here.
inline constexpr std::uint64_t kXcr0GuestComponents = kXcr0X87 | kXcr0Sse | kXcr0Avx | kXcr0Avx512 | kXcr0Pkru;

constexpr bool valid_xcr0(std::uint64_t value, std::uint64_t supported) {
    if ((value & ~supported) != 0 || (value & kXcr0X87) == 0) return false;
    if ((value & kXcr0Avx) && !(value & kXcr0Sse)) return false;
    std::uint64_t mpx = value & kXcr0Mpx;
    if (mpx != 0 && mpx != kXcr0Mpx) return false;
    std::uint64_t avx512 = value & kXcr0Avx512;
    if (avx512 != 0 && (avx512 != kXcr0Avx512 || (value & (kXcr0Sse | kXcr0Avx)) != (kXcr0Sse | kXcr0Avx))) return false;
    std::uint64_t amx = value & kXcr0Amx;
    if (amx != 0 && amx != kXcr0Amx) return false;
    return true;
}

// Sapphire Rapids supports 0x602e7 (x87 SSE AVX, AVX-512, PKRU, AMX).
static_assert(valid_xcr0(0x7, 0x602e7) && valid_xcr0(0x2e7, 0x602e7) && valid_xcr0(0x602e7, 0x602e7));
static_assert(!valid_xcr0(0x202e7, 0x602e7) && !valid_xcr0(0x402e7, 0x602e7));  // one AMX bit alone
static_assert(!valid_xcr0(0x27, 0x2ff) && !valid_xcr0(0xe3, 0x2ff) && !valid_xcr0(0x67, 0x2ff));
static_assert(!valid_xcr0(0xb, 0x2ff) && !valid_xcr0(0x13, 0x2ff) && !valid_xcr0(0x5, 0x2ff) && !valid_xcr0(0x2, 0x2ff));
static_assert(valid_xcr0(0x1b, 0x2ff) && !valid_xcr0(0x1b, 0x2e7));
static_assert(valid_xcr0(kXcr0GuestComponents, kXcr0GuestComponents));

}  // namespace tandem::x86
