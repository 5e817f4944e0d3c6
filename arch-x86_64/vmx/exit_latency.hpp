// How long the guest waits on tandem (issue 14, defect 2): host TSC from a VM exit to the next
// VM entry, measured in the run loop (virtual_machine.cpp), and the longest such wait with the
// exit reason it had. Everything tandem does inside an exit counts: the handler, the tick's
// work (link, epochs, console), the tick listeners. The backup takes over after failover_ms of
// silence, so this must stay far below it whatever the guest does.
#pragma once

#include <cstdint>

#include "arch-x86_64/vmx/exit_reason.hpp"

namespace tandem::x86 {

class ExitLatency {
public:
    // The watchdog (issue 19): an exit that held the guest longer than `bound_tsc` is reported
    // by the run loop, with its exit reason and how long, at most once per `quiet_tsc` (so a
    // storm of slow exits is one line now and then, not a flood). 0: no watchdog.
    void set_watchdog(std::uint64_t bound_tsc, std::uint64_t quiet_tsc) {
        bound_ = bound_tsc;
        quiet_ = quiet_tsc;
    }
    // Whether the exit just measured by resuming() is one to report now; counts every one over
    // the bound (over_bound()), reported or not.
    bool overran(std::uint64_t now) {
        if (bound_ == 0 || last_ <= bound_) return false;
        ++over_bound_;
        if (reported_any_ && now - last_report_ < quiet_) return false;
        reported_any_ = true;
        last_report_ = now;
        return true;
    }
    std::uint64_t last_tsc() const { return last_; }
    ExitReason last_reason() const { return last_reason_; }
    std::uint64_t over_bound() const { return over_bound_; }

    // Right after a VM exit.
    void exited(std::uint64_t tsc) {
        exited_at_ = tsc;
        pending_ = true;
    }
    // Right before a VM entry that resumes the guest after the exit of `reason`.
    void resuming(std::uint64_t tsc, ExitReason reason) {
        if (!pending_) return;  // the first entry of a run follows no exit
        pending_ = false;
        std::uint64_t took = tsc > exited_at_ ? tsc - exited_at_ : 0;
        last_ = took;
        last_reason_ = reason;
        ++measured_;
        if (took > longest_) {
            longest_ = took;
            reason_ = reason;
        }
    }
    // The guest stopped after the last exit: nothing resumes it in this run.
    void run_ended() { pending_ = false; }

    std::uint64_t longest_tsc() const { return longest_; }
    ExitReason longest_reason() const { return reason_; }
    std::uint64_t measured() const { return measured_; }

private:
    std::uint64_t exited_at_ = 0;
    bool pending_ = false;
    std::uint64_t longest_ = 0;
    ExitReason reason_{};
    std::uint64_t measured_ = 0;
    std::uint64_t last_ = 0;
    ExitReason last_reason_{};
    std::uint64_t bound_ = 0, quiet_ = 0, over_bound_ = 0, last_report_ = 0;
    bool reported_any_ = false;
};

}  // namespace tandem::x86
