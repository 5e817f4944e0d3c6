// Auto-converge (issue 15): a migration stops the guest for its last copy only once that copy
// fits migrate_downtime_ms. The measure is the last acknowledged epoch: from its capture to the
// target holding it — what the last copy costs with the guest stopped — plus an epoch (the stop
// comes anywhere in one, the last copy is captured at its end). While it does not fit, the
// guest's CPU share goes down a step (guest_throttle.hpp: 20 %, then 10 % more) once two epochs
// captured after the previous step have been judged, so that it dirties fewer pages per epoch;
// at the hardest step the guest stops anyway (the migration always ends, migrate_max_s bounds it
// all), and says so. A guest that already fits is never throttled.
//
// The throttle's pause is a stop of the guest that is not an end (kThrottlePause): the session
// runs the link and the migration at every tick meanwhile, as with a guest, and resumes the guest
// at the start of its next period.
#include "replication/sessions/pair_session.hpp"

namespace tandem::sessions {

bool PairSession::last_copy_fits() {
    std::uint64_t tick = machine_.tsc_khz();
    std::uint32_t budget = machine_.config().migrate_downtime_ms;
    std::uint64_t latency = primary_->last_ack_latency();
    // The first protected epochs still carry the join's tail: judged from the third on.
    if (latency == 0 || primary_->acked_epoch() < primary_->protected_from() + 2) return false;
    // After the stop, the epoch under way ends at its boundary (at most an epoch away), then the
    // target must hold it: about the last epoch's capture-to-acknowledgement time.
    std::uint64_t expected_ms = latency / tick + primary_->epoch_ms();
    expected_stop_ms_ = expected_ms;
    if (expected_ms <= budget) return true;
    if (throttle_.active() && primary_->acked_epoch() < throttle_epoch_ + 2) return false;  // the step not judged yet
    if (throttle_.at_max()) {
        println(out_, "migrate: the last copy would still stop the guest about {} ms with the guest throttled to {} % of "
                      "its CPU, over migrate_downtime_ms={}: stopping it anyway",
                expected_ms, 100 - throttle_.percent(), budget);
        return true;
    }
    throttle_.step();
    throttle_used_ = throttle_.percent();
    throttle_epoch_ = primary_->last_captured_epoch();
    println(out_, "migrate: the guest dirties memory faster than the link carries it (the last copy would stop it about "
                  "{} ms, over migrate_downtime_ms={}): throttling it to {} % of its CPU",
            expected_ms, budget, 100 - throttle_.percent());
    return false;
}

// At the tick, with the guest running: its share of this period is used up.
void PairSession::pause_if_throttled() {
    if (!throttle_.active() || switchover_asked_ || phase_ != Phase::running) return;
    if (throttle_.pause_due(machine_.now() / machine_.tsc_khz())) machine_.stop_guest(kThrottlePause);
}

// The guest paused by the throttle: the timer's work at every tick, until its next period.
Session::Next PairSession::poll_throttled() {
    std::uint64_t now = machine_.now(), tick = machine_.tsc_khz();
    if (now - throttle_polled_at_ >= tick) {
        throttle_polled_at_ = now;
        feed_->receive();
        if (auto s = primary_->tick(); !s) {
            print(out_, "pair: ");
            println(out_, "{}", s.error());
            throttle_paused_ = false;
            phase_ = Phase::ended;
            println(out_, "pair: the guest ended; the link stays up so the backup does not take over a finished guest");
            return Next::wait;
        }
        poll_migration();
        sample_throughput();
    }
    if (switchover_asked_) {  // poll_migration stopped the guest for its last copy: it is stopped already
        throttle_paused_ = false;
        enter_switching();
        return Next::wait;
    }
    if (!throttle_.resume_due(now / tick)) return Next::wait;
    throttle_paused_ = false;
    return Next::run_guest;
}

// The migration is over (done, given up, called off): the guest gets its whole CPU back.
void PairSession::end_throttle() {
    throttle_.reset();
    throttle_paused_ = false;  // poll() runs the guest at once
}

}  // namespace tandem::sessions
