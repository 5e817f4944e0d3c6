// A diagnostic of the guest's interrupts, checked by the vCPU before every VM entry (issue 14: a
// Linux primary's guest stopped answering for 20 s and then reported "soft lockup - CPU#0 stuck
// for 22s" from its idle loop while the primary copied it to a joining backup, and nothing in
// tandem's log said why). Two situations are wrong for any guest that runs a timer, and each is
// reported once per episode with the interrupt state, so a stalled guest leaves evidence:
//   - a requested interrupt (the local APIC's IRR not empty) waits longer than `request_bound`
//     and nothing at all is injected meanwhile: the guest cannot take it (IF clear for that long,
//     a vector in service that is never ended) or tandem does not deliver it;
//   - the guest waits in HLT longer than `halt_bound` and nothing is injected: no timer is armed
//     that could wake it (Linux always arms one within 4 s: its soft-lockup watchdog's period).
// An injection ends both episodes. Times are host TSC cycles.
#pragma once

#include <cstdint>

namespace tandem {

class InterruptWaitWatch {
public:
    enum class Finding : std::uint8_t { none, request_waits, halted_too_long };

    void set_bounds(std::uint64_t request_bound, std::uint64_t halt_bound) {
        request_bound_ = request_bound;
        halt_bound_ = halt_bound;
    }

    // Before a VM entry: `requested` whether the IRR holds a vector, `injected` whether this
    // entry injects one, `halted` whether the guest enters in the HLT state.
    Finding observe(std::uint64_t now, bool requested, bool injected, bool halted) {
        if (injected) {
            request_.reset();
            halt_.reset();
            return Finding::none;
        }
        if (request_.step(now, requested, request_bound_)) return Finding::request_waits;
        if (halt_.step(now, halted, halt_bound_)) return Finding::halted_too_long;
        return Finding::none;
    }

    // How long the episode just reported has lasted.
    std::uint64_t waited(Finding finding, std::uint64_t now) const {
        const Episode& e = finding == Finding::request_waits ? request_ : halt_;
        return e.active ? now - e.since : 0;
    }
    std::uint64_t reports() const { return request_.reports + halt_.reports; }

private:
    struct Episode {
        bool active = false;
        bool reported = false;
        std::uint64_t since = 0;
        std::uint64_t reports = 0;

        void reset() {
            active = false;
            reported = false;
        }
        // True once per episode, when the condition has held for `bound` (0: never).
        bool step(std::uint64_t now, bool condition, std::uint64_t bound) {
            if (!condition) {
                reset();
                return false;
            }
            if (!active) {
                active = true;
                since = now;
            }
            if (bound == 0 || reported || now - since < bound) return false;
            reported = true;
            ++reports;
            return true;
        }
    };

    std::uint64_t request_bound_ = 0, halt_bound_ = 0;
    Episode request_, halt_;
};

}  // namespace tandem
