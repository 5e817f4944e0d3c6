// Auto-converge's brake (issue 15): a guest that dirties memory faster than the link carries it
// gets a smaller share of the CPU, so that the dirty set of an epoch — what the migration's last
// copy must send with the guest stopped — shrinks until it fits the downtime budget. As QEMU's
// auto-converge (cpu-throttle-initial 20 %, increment 10 %), but the guest is held by the
// hypervisor, not by a host scheduler: in every period of kPeriodTicks timer ticks (1 ms each) the
// guest runs the first (100 - percent) % and is paused for the rest, the link served meanwhile.
//
// Portable: the owner calls pause_due() at each tick while the guest runs and resume_due() while
// it is paused; both take the tick count of the session's timer.
#pragma once

#include <cstdint>

namespace tandem::sessions {

class GuestThrottle {
public:
    static constexpr std::uint32_t kPeriodTicks = 20;
    static constexpr std::uint32_t kFirstPercent = 20;
    static constexpr std::uint32_t kStepPercent = 10;
    static constexpr std::uint32_t kMaxPercent = 95;  // the guest keeps 1 tick in 20

    std::uint32_t percent() const { return percent_; }
    bool active() const { return percent_ != 0; }
    bool at_max() const { return percent_ >= kMaxPercent; }
    // One step harder (20, 30, ... 90, 95); returns the new percentage.
    std::uint32_t step();
    void reset() { percent_ = 0; }

    // Ticks of each period the guest runs.
    std::uint32_t run_ticks() const { return kPeriodTicks - kPeriodTicks * percent_ / 100; }
    // The guest has had its ticks of this period (tick: a count of the session's timer ticks).
    bool pause_due(std::uint64_t tick) const { return active() && tick % kPeriodTicks >= run_ticks(); }
    // A new period has begun (or the throttle is off): the guest runs again.
    bool resume_due(std::uint64_t tick) const { return !active() || tick % kPeriodTicks < run_ticks(); }

private:
    std::uint32_t percent_ = 0;
};

}  // namespace tandem::sessions
