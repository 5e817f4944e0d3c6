// The XSAVE area tandem keeps for the guest's extended state (Intel SDM Vol. 1 §13.4 "XSAVE
// Area"): the standard (non-compacted) format, holding the state components the guest may enable
// (xcr0.hpp kXcr0GuestComponents). Offsets and sizes come from CPUID leaf 0DH (§13.2
// "Enumeration of CPU Support for XSAVE Instructions and XSAVE-Supported Features"), never from
// constants: they differ between processors (AMX alone adds 8 KiB of tile data), and Bochs
// reports its own. Portable: the CPUID answers come through a CpuidSource, so the host tests
// read the layouts of real processors (tests/unit/cpu_generations.hpp).
#pragma once

#include <cstdint>
#include <span>

#include "arch-x86_64/vmx/cpuid_policy.hpp"
#include "hypervisor/console/writer.hpp"
#include "hypervisor/util/result.hpp"

namespace tandem::x86 {

// Legacy region (x87 and SSE state, 512 bytes) and the XSAVE header (64 bytes) (§13.4.1, §13.4.2):
// the smallest standard-format area.
inline constexpr std::uint32_t kXsaveLegacyRegionSize = 512;
inline constexpr std::uint32_t kXsaveHeaderSize = 64;
inline constexpr std::uint32_t kXsaveMinimumArea = kXsaveLegacyRegionSize + kXsaveHeaderSize;

struct XsaveLayout {
    std::uint64_t host_xcr0 = 0;   // CPUID.(0DH,0):EDX:EAX: every XCR0 bit the processor supports
    std::uint32_t host_size = 0;   // CPUID.(0DH,0):ECX: a standard-format area holding all of them
    std::uint64_t guest_xcr0 = 0;  // host_xcr0 & kXcr0GuestComponents: what the guest may enable, and
                                   // what tandem saves and restores for it (XSAVE/XRSTOR's mask)
    std::uint32_t size = 0;        // the standard-format area for guest_xcr0: what one capture holds
    std::uint64_t unplaced = 0;    // components the guest would get but leaf 0DH gives no place
                                   // (size 0, as Bochs' tigerlake says of PKRU): hidden from it
};

// The bytes a standard-format area needs for `components` (a set of XCR0 bits the processor
// supports): the end of the furthest component (CPUID.(0DH,i): EBX its offset, EAX its size),
// and at least the legacy region and the header. Refused when leaf 0DH gives a user component
// no place (size 0, an offset inside the first 576 bytes, or marked as a supervisor component).
Result<std::uint32_t> xsave_standard_size(const CpuidSource& cpu, std::uint64_t components);

// The layout on this processor; all zeros when it has no XSAVE (CPUID.1:ECX[26]). A component
// the guest would get but leaf 0DH gives no place is hidden from it (layout.unplaced; the AVX-512
// triple goes whole), so what the guest's CPUID says stays consistent: Linux warns ("XSAVE
// consistency problem") when XCR0's mask and the sizes disagree (issue 18). Refused when what
// remains is no valid XCR0 or the guest's area exceeds `bound` (the XSAVE bytes a checkpoint
// carries): boot then stops with that reason rather than fail every capture later.
Result<XsaveLayout> read_xsave_layout(const CpuidSource& cpu, std::uint32_t bound);

// Whether XRSTOR in the standard form, with `layout.guest_xcr0` as XCR0 and as its mask, can load
// `image` without faulting (SDM Vol. 1 §13.8.1 "Standard Form of XRSTOR": #GP when XSTATE_BV sets
// a bit XCR0 does not, when header bytes 23:8 are not zero, and when the MXCSR it loads sets
// reserved bits, §10.5.1.2 / §11.6.6). The image is the peer's, and with insecure_link=1 anyone's:
// a fault there would be a #GP in VMX root operation, which halts tandem. Also refused: an image
// whose size is not this processor's area for the guest (the peer has another processor).
Status check_xsave_image(std::span<const std::uint8_t> image, const XsaveLayout& layout);

// One boot line: what the processor supports, what the guest gets, the sizes and the bound.
void report_xsave_layout(Writer& out, const XsaveLayout& layout, std::uint32_t bound);

}  // namespace tandem::x86
