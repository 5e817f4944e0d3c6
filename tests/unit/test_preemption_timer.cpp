// The VMX-preemption timer's units (arch-x86_64/vmx/preemption_timer.hpp) with the rates the
// processors report: Bochs 0, real Intel processors 5. Bochs cannot show a wrong conversion
// (its rate is 0, so TSC cycles and timer units are the same); this test must.
#include <doctest/doctest.h>

#include "arch-x86_64/vmx/preemption_timer.hpp"
#include "vmx_fake_vcpu.hpp"

using tandem::x86::PreemptionTimerRate;

TEST_CASE("preemption timer: 1 ms is tsc_khz units at rate 0 (Bochs) and tsc_khz / 32 at rate 5 (real Intel CPUs)") {
    constexpr std::uint64_t kKhz = 2'600'000;  // a 2.6 GHz server
    PreemptionTimerRate bochs{0}, intel{5};
    CHECK(bochs.units_for_ms(1, kKhz) == 2'600'000);
    CHECK(intel.units_for_ms(1, kKhz) == 81'250);
    CHECK(intel.tsc_ticks(intel.units_for_ms(1, kKhz)) == 2'600'000);  // and back: exactly 1 ms
    CHECK(intel.units_for_ms(20, kKhz) == 1'625'000);
    // A wait in TSC cycles rounds down (the exit comes no later than asked) ...
    CHECK(intel.units(31) == 0);
    CHECK(intel.units(64) == 2);
    // ... and saturates at the 32-bit field.
    CHECK(bochs.units(1ull << 40) == 0xffffffffu);
    CHECK(intel.units(1ull << 40) == (1ull << 35 > 0xffffffffu ? 0xffffffffu : 1ull << 35));
    // A period shorter than one unit is one unit, never 0 (0 exits at every entry) ...
    CHECK(intel.units_for_ms(1, 10) == 1);
    // ... and an unknown TSC frequency gives the longest period rather than a storm of exits.
    CHECK(intel.units_for_ms(1, 0) == 0xffffffffu);
}

TEST_CASE("preemption timer: the vCPU's periodic tick honours the rate") {
    for (unsigned shift : {0u, 5u}) {
        CAPTURE(shift);
        tandem::x86::VcpuConfig config = test::VcpuRig::default_config();
        config.timer_rate = PreemptionTimerRate{shift};
        test::VcpuRig rig(tandem::guest_boot::EntryMode::protected32, config);
        rig.vcpu.set_tick_ms(1, 1'000'000);  // 1 ms at 1 GHz
        rig.exit(tandem::x86::ExitReason::preemption_timer);  // re-arms the next period
        CHECK(rig.get(tandem::x86::vmcs::preemption_timer_value) == (shift == 0 ? 1'000'000u : 31'250u));
    }
}
