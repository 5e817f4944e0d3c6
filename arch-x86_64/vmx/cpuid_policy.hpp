// What CPUID tells the guest (DESIGN §6): the host's answers, filtered. Hidden: VMX and SMX,
// performance monitoring, thermal and power management, machine-check architecture, MTRRs,
// SGX and processor trace, topology beyond one logical CPU, and every feature whose MSRs or
// instructions tandem does not virtualise. Added: the hypervisor bit and the hypervisor leaves
// (signature, TSC frequency). Leaves tandem does not know return zeros.
#pragma once

#include <cstdint>

#include "arch-x86_64/vmx/xcr0.hpp"

namespace tandem::x86 {

struct CpuidValues {
    std::uint32_t eax, ebx, ecx, edx;
};

class CpuidSource {
public:
    virtual CpuidValues cpuid(std::uint32_t leaf, std::uint32_t subleaf) const = 0;

protected:
    ~CpuidSource() = default;
};

struct CpuidPolicy {
    std::uint32_t tsc_khz = 0;         // 0 when not calibrated: leaf 0x40000010 then says so
    bool rdtscp = false;               // the secondary controls enabled these instructions
    bool invpcid = false;
    bool xsaves = false;
    // The guest has a local APIC (an unmodified kernel, PcPlatform): APIC and TSC-deadline in
    // leaf 1, invariant TSC, and leaf 0x15 describing the TSC and the APIC timer's clock as
    // TSC = crystal * tsc_per_crystal, so Linux takes both frequencies from CPUID instead of
    // calibrating against a PIT it does not use. x2APIC stays hidden: Linux would leave x2APIC
    // mode anyway without interrupt remapping (local_apic_model.hpp).
    bool local_apic = false;
    std::uint32_t crystal_hz = 0;
    std::uint32_t tsc_per_crystal = 1;
    // The XCR0 components the guest may enable (xsave_layout.hpp XsaveLayout::guest_xcr0): leaf
    // 0DH describes these only, and leaf 7 hides the features of the others (PKU, AVX-512).
    std::uint64_t xcr0_components = kXcr0GuestComponents;
    // Leaf 7 EDX's speculation-control bits the guest sees (speculation.hpp SpeculationPlan).
    std::uint32_t leaf7_edx_speculation = 0;
};

// guest_cr4 supplies OSXSAVE, which CPUID.1:ECX[27] mirrors.
CpuidValues guest_cpuid(const CpuidSource& host, const CpuidPolicy& policy, std::uint32_t leaf, std::uint32_t subleaf,
                        std::uint64_t guest_cr4);

}  // namespace tandem::x86
