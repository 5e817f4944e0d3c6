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
};

}  // namespace tandem::x86
