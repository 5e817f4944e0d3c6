// `failover` on a primary's console (issue 16): the guest stops here for good and the backup
// takes it over from its committed epoch, told so by an authenticated notice in order after the
// last pages (engine/pair_notice.hpp) instead of waiting failover_ms for this machine's silence.
// Exactly one machine runs the guest afterwards: this one never resumes it, and goes silent on
// the link and the client network once the backup has the notice. If the notice is not
// acknowledged within twice failover_ms, this machine goes silent anyway and the backup takes
// over as at any failure (its silence, then no answer to the probe).
#include "replication/sessions/pair_session.hpp"

namespace tandem::sessions {

void PairSession::failover(Writer& out) {
    if (!primary_) {
        println(out, "failover: this machine is the backup: run failover on the primary (taking over while the primary "
                     "runs would run the guest twice)");
        return;
    }
    if (phase_ != Phase::running || handover_asked_) {
        println(out, "failover: the guest does not run here (nothing to hand over)");
        return;
    }
    if (!primary_->can_hand_over()) {
        println(out, "failover: refused: no backup holds a protected epoch yet, so none could take the guest over "
                     "(wait for 'pair: PROTECTED')");
        return;
    }
    handover_asked_ = true;
    println(out, "failover: stopping the guest here; the backup takes it over from its committed epoch (epoch {} or later)",
            primary_->acked_epoch());
    machine_.stop_guest("failover asked on the console");
}

Session::Next PairSession::poll_handover() {
    feed_->receive();
    if (!handover_sent_) handover_sent_ = primary_->send_handover();
    transport_->poll();
    if (handover_sent_ && transport_->acked_everything()) {
        finish_handover("the backup has the notice and takes over");
    } else if (machine_.now() - handover_since_ > 2 * machine_.tsc_khz() * machine_.config().failover_ms) {
        finish_handover("the backup did not acknowledge the notice; it takes over when it finds this machine silent");
    }
    return Next::wait;
}

void PairSession::finish_handover(const char* how) {
    phase_ = Phase::handed_over;
    transport_->close();
    println(out_, "failover: {}; this machine now runs nothing and stays silent (restart it as role=backup to protect "
                  "the guest again)",
            how);
}

}  // namespace tandem::sessions
