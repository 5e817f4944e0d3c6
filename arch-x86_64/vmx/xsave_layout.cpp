#include "arch-x86_64/vmx/xsave_layout.hpp"

#include "arch-x86_64/vmx/xcr0.hpp"

namespace tandem::x86 {
namespace {
constexpr std::uint32_t kXsaveLeaf = 0xd;
constexpr std::uint32_t kLeaf1EcxXsave = 1u << 26;
constexpr std::uint32_t kSubleafEcxSupervisor = 1u << 0;  // CPUID.(0DH,i):ECX[0] (SDM Vol. 2A Table 3-8)
constexpr std::size_t kMxcsrOffset = 24;                  // legacy region (SDM Vol. 1 Table 13-1)
constexpr std::size_t kXstateBvOffset = kXsaveLegacyRegionSize;  // header bytes 7:0
// MXCSR bits 31:16 are reserved on every processor (MXCSR_MASK is at most 0xFFFF; SDM Vol. 1
// §11.6.6): refused whatever this processor's mask says about DAZ, which XRSTOR would also check.
constexpr std::uint32_t kMxcsrReserved = 0xffff'0000u;

std::uint64_t read_u64(std::span<const std::uint8_t> b, std::size_t at) {
    std::uint64_t v = 0;
    for (unsigned i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>(b[at + i]) << (8 * i);
    return v;
}
}  // namespace

Result<std::uint32_t> xsave_standard_size(const CpuidSource& cpu, std::uint64_t components) {
    std::uint64_t end = kXsaveMinimumArea;
    // Components 0 and 1 (x87, SSE) live in the legacy region; 63 is reserved for XCOMP_BV[63].
    for (unsigned i = 2; i < 63; ++i) {
        if (((components >> i) & 1) == 0) continue;
        CpuidValues c = cpu.cpuid(kXsaveLeaf, i);
        if (c.eax == 0 || c.ebx < kXsaveMinimumArea || (c.ecx & kSubleafEcxSupervisor) != 0) {
            return Error::of("CPUID leaf 0xD gives no place in the XSAVE area to state component", i);
        }
        std::uint64_t component_end = static_cast<std::uint64_t>(c.ebx) + c.eax;
        if (component_end > end) end = component_end;
    }
    if (end > 0xffff'ffffull) return Error::of("CPUID leaf 0xD places XSAVE state beyond 4 GiB", end);
    return static_cast<std::uint32_t>(end);
}

namespace {

bool has_place(const CpuidSource& cpu, unsigned component) {
    CpuidValues c = cpu.cpuid(kXsaveLeaf, component);
    return c.eax != 0 && c.ebx >= kXsaveMinimumArea && (c.ecx & kSubleafEcxSupervisor) == 0;
}

// The components of `wanted` (above x87 and SSE) that leaf 0DH gives no place; the AVX-512
// triple counts whole (XSETBV takes its bits together only).
std::uint64_t unplaced_components(const CpuidSource& cpu, std::uint64_t wanted) {
    std::uint64_t unplaced = 0;
    for (unsigned i = 2; i < 63; ++i) {
        if (((wanted >> i) & 1) != 0 && !has_place(cpu, i)) unplaced |= 1ull << i;
    }
    if ((unplaced & kXcr0Avx512) != 0) unplaced |= wanted & kXcr0Avx512;
    return unplaced;
}

}  // namespace

Result<XsaveLayout> read_xsave_layout(const CpuidSource& cpu, std::uint32_t bound) {
    XsaveLayout layout;
    if ((cpu.cpuid(1, 0).ecx & kLeaf1EcxXsave) == 0) return layout;
    CpuidValues d = cpu.cpuid(kXsaveLeaf, 0);
    layout.host_xcr0 = (static_cast<std::uint64_t>(d.edx) << 32) | d.eax;
    layout.host_size = d.ecx;
    layout.unplaced = unplaced_components(cpu, layout.host_xcr0 & kXcr0GuestComponents);
    layout.guest_xcr0 = layout.host_xcr0 & kXcr0GuestComponents & ~layout.unplaced;
    // The mask is also the XCR0 tandem holds while it saves and restores (machine_platform.cpp):
    // it must be one XSETBV accepts (x87 and SSE, AVX with them, the AVX-512 triple whole).
    if (!valid_xcr0(layout.guest_xcr0, layout.host_xcr0) || (layout.guest_xcr0 & kXcr0Sse) == 0) {
        return Error::of("CPUID leaf 0xD: this processor's XSAVE components make no valid XCR0 for the guest",
                         layout.host_xcr0);
    }
    auto size = xsave_standard_size(cpu, layout.guest_xcr0);
    if (!size) return size.error();
    if (*size > bound) {
        return Error::of("the XSAVE area for the guest's state components is larger than a checkpoint carries "
                         "(bytes)", *size);
    }
    layout.size = *size;
    return layout;
}

Status check_xsave_image(std::span<const std::uint8_t> image, const XsaveLayout& layout) {
    if (image.size() != layout.size) {
        return Error::of("cpu state: the XSAVE image's size (bytes) is not this processor's area for the guest "
                         "(the peer's processor differs)", image.size());
    }
    if (image.size() < kXsaveMinimumArea) return Error::of("cpu state: the XSAVE image is too short", image.size());
    std::uint64_t xstate_bv = read_u64(image, kXstateBvOffset);
    if ((xstate_bv & ~layout.guest_xcr0) != 0) {
        return Error::of("cpu state: the XSAVE header's XSTATE_BV names components the guest may not enable", xstate_bv);
    }
    if (read_u64(image, kXstateBvOffset + 8) != 0 || read_u64(image, kXstateBvOffset + 16) != 0) {
        return Error::of("cpu state: the XSAVE header's bytes 23:8 (XCOMP_BV) are not zero");
    }
    std::uint32_t mxcsr = static_cast<std::uint32_t>(read_u64(image, kMxcsrOffset));
    if ((mxcsr & kMxcsrReserved) != 0) return Error::of("cpu state: the XSAVE image's MXCSR sets reserved bits", mxcsr);
    return success();
}

void report_xsave_layout(Writer& out, const XsaveLayout& layout, std::uint32_t bound) {
    if (layout.host_xcr0 == 0) {
        println(out, "cpu: no XSAVE: the guest sees none, and checkpoints carry no x87/SSE register state");
        return;
    }
    println(out, "cpu: XSAVE components {} ({} bytes); the guest may enable {} (hidden: {}), saved in {} of the {} "
                 "bytes a checkpoint carries",
            hex(layout.host_xcr0), layout.host_size, hex(layout.guest_xcr0), hex(layout.host_xcr0 & ~layout.guest_xcr0),
            layout.size, bound);
    if (layout.unplaced != 0) {
        println(out, "cpu: CPUID leaf 0xD gives no place in the XSAVE area to components {}: hidden from the guest "
                     "(with their CPUID feature bits), so what it is told stays consistent",
                hex(layout.unplaced));
    }
}

}  // namespace tandem::x86
