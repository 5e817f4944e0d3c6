// Which XCR0 values XSETBV accepts (Intel SDM Vol. 1 §13.3, Vol. 2C XSETBV): x87 always on; AVX
// only with SSE; the three AVX-512 components together and only with AVX; the two MPX components
// together; nothing the processor does not support. Checked before tandem executes XSETBV for a
// guest, so a bad value becomes #GP in the guest instead of a fault in the hypervisor.
#pragma once

#include <cstdint>

namespace tandem::x86 {

inline constexpr std::uint64_t kXcr0X87 = 1u << 0, kXcr0Sse = 1u << 1, kXcr0Avx = 1u << 2;
inline constexpr std::uint64_t kXcr0Mpx = (1u << 3) | (1u << 4);
inline constexpr std::uint64_t kXcr0Avx512 = (1u << 5) | (1u << 6) | (1u << 7);

constexpr bool valid_xcr0(std::uint64_t value, std::uint64_t supported) {
    if ((value & ~supported) != 0 || (value & kXcr0X87) == 0) return false;
    if ((value & kXcr0Avx) && !(value & kXcr0Sse)) return false;
    std::uint64_t avx512 = value & kXcr0Avx512;
    if (avx512 != 0 && (avx512 != kXcr0Avx512 || !(value & kXcr0Avx))) return false;
    std::uint64_t mpx = value & kXcr0Mpx;
    if (mpx != 0 && mpx != kXcr0Mpx) return false;
    return true;
}
static_assert(valid_xcr0(0x7, 0x2ff) && valid_xcr0(0xe7, 0x2ff) && valid_xcr0(0x1b, 0x2ff));
static_assert(!valid_xcr0(0x27, 0x2ff) && !valid_xcr0(0xe3, 0x2ff) && !valid_xcr0(0x67, 0x2ff));
static_assert(!valid_xcr0(0xb, 0x2ff) && !valid_xcr0(0x13, 0x2ff) && !valid_xcr0(0x5, 0x2ff) && !valid_xcr0(0x2, 0x2ff));

}  // namespace tandem::x86
