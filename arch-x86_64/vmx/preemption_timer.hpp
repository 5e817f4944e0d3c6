// The VMX-preemption timer's units (Intel SDM Vol. 3C §26.5.1, "VMX-Preemption Timer"): the
// timer counts down by one each time bit X of the TSC changes, where X is IA32_VMX_MISC[4:0]
// (§A.6) — once every 2^X TSC cycles. Bochs reports X = 0; real Intel processors report 5
// (and others), so a period computed in TSC cycles and written unconverted runs 2^X times too
// long on a real server ("1 ms" ticks of 32 ms). Every value written to the VMCS field comes
// from here; the field is 32 bits wide, so long waits saturate.
#pragma once

#include <cstdint>

namespace tandem::x86 {

struct PreemptionTimerRate {
    unsigned shift = 0;  // IA32_VMX_MISC[4:0]: one timer unit is 2^shift TSC cycles

    static constexpr std::uint64_t kMaxUnits = 0xffffffffu;

    // Timer units for a wait of `tsc_ticks` TSC cycles, rounded down (the exit comes no later
    // than asked for) and saturated at the field's width.
    constexpr std::uint64_t units(std::uint64_t tsc_ticks) const {
        std::uint64_t u = tsc_ticks >> shift;
        return u > kMaxUnits ? kMaxUnits : u;
    }
    // The TSC cycles `units` timer units take.
    constexpr std::uint64_t tsc_ticks(std::uint64_t units) const { return units << shift; }
    // Units for a period of `ms` milliseconds at `tsc_khz`; at least one unit, so a period
    // shorter than one unit still expires (a zero value exits at once, every entry). An unknown
    // TSC frequency (0: calibration failed) gives the longest period, never an exit storm.
    constexpr std::uint64_t units_for_ms(std::uint64_t ms, std::uint64_t tsc_khz) const {
        if (tsc_khz == 0) return kMaxUnits;
        std::uint64_t u = units(tsc_khz * ms);
        return u == 0 ? 1 : u;
    }
};

}  // namespace tandem::x86
