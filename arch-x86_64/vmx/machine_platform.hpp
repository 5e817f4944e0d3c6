// The instructions the portable vCPU code needs, executed on this processor: CPUID, RDTSC,
// XSETBV/XGETBV, XSAVE/XRSTOR, RDMSR/WRMSR of the guest-owned MSRs, the debug registers.
// XSAVE and XRSTOR use the guest's components only (xsave_layout.hpp: layout_.guest_xcr0), in
// the standard format, sized from CPUID leaf 0DH.
#pragma once

#include "arch-x86_64/vmx/cpu_state_capture.hpp"
#include "arch-x86_64/vmx/speculation.hpp"
#include "arch-x86_64/vmx/vcpu.hpp"

namespace tandem::x86 {

class MachinePlatform final : public VcpuPlatform, public CpuStatePlatform {
public:
    MachinePlatform();

    CpuidValues cpuid(std::uint32_t leaf, std::uint32_t subleaf) const override;
    std::uint64_t read_tsc() const override;
    bool set_xcr0(std::uint64_t value) override { return write_xcr0(value); }

    std::uint64_t read_xcr0() const override;
    bool write_xcr0(std::uint64_t value) override;
    const XsaveLayout& xsave_layout() const override { return layout_; }
    std::uint32_t save_extended_state(std::span<std::uint8_t> area) override;
    void restore_extended_state(std::span<const std::uint8_t> area) override;
    std::uint64_t read_msr(std::uint32_t msr) const override;
    void write_msr(std::uint32_t msr, std::uint64_t value) override;
    bool has_tsc_aux() const override { return tsc_aux_; }
    bool has_spec_ctrl() const override { return speculation_.guest_spec_ctrl; }
    // What this processor says about transient-execution attacks, and what tandem does about
    // them (speculation.hpp): decided once, here.
    const SpeculationFacts& speculation_facts() const { return speculation_facts_; }
    const SpeculationPlan& speculation() const { return speculation_; }
    std::uint64_t read_debug_register(unsigned n) const override;
    void write_debug_register(unsigned n, std::uint64_t value) override;

    // Whether this processor's XSAVE area for the guest is usable: leaf 0DH consistent and the
    // area within what a checkpoint carries (read_xsave_layout). The reason when it is not.
    Status extended_state() const { return layout_ok_ ? success() : Status{layout_error_}; }

private:
    bool xsave_ = false;
    bool tsc_aux_ = false;
    XsaveLayout layout_{};
    SpeculationFacts speculation_facts_{};
    SpeculationPlan speculation_{};
    bool layout_ok_ = false;
    Error layout_error_{};
};

}  // namespace tandem::x86
