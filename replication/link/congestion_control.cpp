#include "replication/link/congestion_control.hpp"

#include "replication/link/link_time.hpp"

namespace tandem::link {
namespace {

std::uint32_t min_u32(std::uint32_t a, std::uint32_t b) { return a < b ? a : b; }
std::uint32_t max_u32(std::uint32_t a, std::uint32_t b) { return a > b ? a : b; }

}  // namespace

void AckSamples::add(const SendSlot& s) {
    ++delivered;
    if (s.transmissions == 1) {
        if (s.first_sent_ns < oldest_sent_ns) oldest_sent_ns = s.first_sent_ns;
        if (s.first_sent_ns > newest_sent_ns) newest_sent_ns = s.first_sent_ns;
    } else {
        retransmitted = true;
    }
}

void CongestionControl::reset(const TransportConfig& config) {
    window_ = config.window;
    ack_every_ = config.ack_every;
    ack_delay_ns_ = config.timing.ack_delay_ns;
    rtt_.reset(config.timing);
    rto_armed_ = false;
    rto_start_ns_ = 0;
    cwnd_ = min_u32(config.initial_cwnd, config.window);
    ssthresh_ = config.window;
    cwnd_acc_ = 0;
    in_recovery_ = recovery_by_timeout_ = fast_retransmit_due_ = false;
    recovery_point_ = 0;
    rack_seq_ = rack_rtt_ns_ = rack_ns_ = reorder_ns_ = 0;
    rack_armed_ = false;
    rack_deadline_ns_ = 0;
    dupthresh_ = kDupThreshold;
    probe_out_ = false;
    probe_start_ns_ = 0;
}

void CongestionControl::on_transmit(std::uint64_t now) {
    if (!probe_out_) probe_start_ns_ = now;
    if (!rto_armed_) {  // RFC 6298 §5.1
        rto_armed_ = true;
        rto_start_ns_ = now;
    }
}

bool CongestionControl::take_fast_retransmit() {
    const bool due = fast_retransmit_due_;
    fast_retransmit_due_ = false;
    return due;
}

void CongestionControl::on_probe() {
    probe_out_ = true;
    ++stats_.probes;
}

// A message newly known to have arrived (cumulatively or selectively acked).
void CongestionControl::on_newly_delivered(const SendWindow& window, const SendSlot& s, std::uint64_t t) {
    // Which copy arrived is known for a message sent once, and for one acked sooner after its
    // last copy than any round trip takes: an earlier copy did (the retransmission was
    // spurious: reordering, or a delay, was taken for loss).
    const bool original = s.transmissions == 1 || elapsed(t, s.last_sent_ns) < rtt_.min_rtt_ns();
    if (s.transmissions > 1 && original) ++stats_.spurious_retransmissions;
    // RACK: the newest transmission known to have arrived. For a retransmitted message assume
    // the first copy (the least it can prove). First transmissions go out in message order, so
    // first_seq grows with the message number.
    if (s.first_seq > rack_seq_) {
        rack_seq_ = s.first_seq;
        rack_rtt_ns_ = elapsed(t, s.first_sent_ns);
        rack_ns_ = t;
    } else if (original) {
        // It arrived after a message sent later had been acked: reordering, this late, and past
        // this many messages (those sent after it and selectively acked before it).
        const std::uint64_t late = elapsed(t, rack_ns_);
        if (late > reorder_ns_) reorder_ns_ = late;
        if (dupthresh_ < kMaxDupThreshold && window.snd_nxt() - 1 - s.msg >= dupthresh_) {
            const std::uint32_t overtaken = window.sacked_after(s.msg);
            if (overtaken >= dupthresh_) dupthresh_ = min_u32(overtaken + 1, kMaxDupThreshold);
        }
    }
}

void CongestionControl::on_rtt_samples(std::uint64_t timer_sample_ns, std::uint64_t path_sample_ns, std::uint64_t now) {
    rtt_.sample(timer_sample_ns);
    // A standing queue ends slow start (the window stops growing in grow_cwnd()).
    if (rtt_.delay_sample(path_sample_ns, now) && rtt_.queueing() && cwnd_ < ssthresh_) {
        ssthresh_ = max_u32(cwnd_, min_u32(2 * ack_every_, window_));
    }
}

// RFC 6298 §5.2, §5.3: the timer restarts on progress and stops when nothing is outstanding.
void CongestionControl::on_cumulative_ack(const SendWindow& window, std::uint64_t now) {
    rto_armed_ = window.any_outstanding();
    rto_start_ns_ = now;
    if (in_recovery_ && window.acked() >= recovery_point_) in_recovery_ = recovery_by_timeout_ = false;
}

void CongestionControl::on_delivered(std::uint32_t messages, std::uint64_t now) {
    grow_cwnd(messages);
    probe_out_ = false;
    probe_start_ns_ = now;
}

// RFC 8985 §6.2: the reordering allowance. A quarter of the minimum RTT, or the lateness seen
// on this link when that is more, but never above one smoothed RTT.
std::uint64_t CongestionControl::reordering_window() const {
    std::uint64_t w = rtt_.min_rtt_ns() / 4;
    if (reorder_ns_ + reorder_ns_ / 4 > w) w = reorder_ns_ + reorder_ns_ / 4;
    if (w > rtt_.srtt_ns()) w = rtt_.srtt_ns();
    return w;
}

// RFC 8985 §7 (tail loss probe): when acks stop while messages are out (the last ones of a
// burst lost, or their acks), waiting for the RTO would cost a backed-off timeout and the window.
// After two round trips (and the peer's ack delay) one message is sent to draw an ack: a queued
// one, else the newest outstanding again. Its ack's selective-ack bits let the usual loss
// detection find what is missing. One probe per silence; the RTO remains the last resort.
std::uint64_t CongestionControl::probe_timeout() const {
    const std::uint64_t pto = 2 * rtt_.srtt_ns() + ack_delay_ns_;
    const std::uint64_t rto = rtt_.rto_ns();
    return pto < rto ? pto : rto;
}

void CongestionControl::mark_lost(SendWindow& window, SendSlot& slot, bool by_timeout) {
    window.mark_lost(slot, by_timeout);
    ++stats_.lost_marked;
}

// Presumes lost every outstanding message that dupthresh messages sent after it have overtaken
// (selectively acked), or that a message sent after it overtook longer ago than the reordering
// window allows (RACK, RFC 8985 §6.2); arms the RACK timer for the ones not due yet. A loss
// while a queue stands, or a burst of them, is congestion (the window is halved); otherwise it
// is damage (a flipped bit, a lossy wire): the message is resent without slowing down.
void CongestionControl::detect_losses(SendWindow& window, std::uint64_t t) {
    rack_armed_ = false;
    if (!window.any_outstanding()) return;
    // The dupthresh-th newest transmission among the selectively acked messages.
    const std::uint64_t dup_seq = window.nth_newest_sacked_seq(dupthresh_);
    const std::uint64_t allowance = rack_rtt_ns_ + reordering_window();
    std::uint32_t found = 0;
    for (std::uint64_t m = window.acked() + 1; m < window.snd_nxt(); ++m) {
        SendSlot* s = window.outstanding(m);
        if (s == nullptr || s->sacked || s->lost) continue;
        bool lost = s->last_seq < dup_seq;
        if (!lost && s->last_seq < rack_seq_) {
            const std::uint64_t due = s->last_sent_ns + allowance;
            if (t >= due) {
                lost = true;
            } else if (!rack_armed_ || due < rack_deadline_ns_) {
                rack_armed_ = true;
                rack_deadline_ns_ = due;
            }
        }
        if (lost) {
            mark_lost(window, *s, false);
            ++found;
        }
    }
    if (found == 0) return;
    // Congestion: a queue stands, or many messages at once are missing (a shallow buffer
    // overflows before any queueing delay shows, and damage rarely takes an eighth of a window).
    const std::uint32_t lost = window.lost_count();
    const bool burst = lost > 2 && lost * 8 > window.flight();
    if (!in_recovery_ && (rtt_.queueing() || burst)) {
        enter_recovery(window);
    } else {
        fast_retransmit_due_ = true;
    }
}

// RFC 6675 §5 / RFC 5681 §3.2: halve the congestion window once per window of data, and
// retransmit the oldest lost message at once (the rest as the window allows).
void CongestionControl::enter_recovery(const SendWindow& window) {
    ++stats_.recoveries;
    ssthresh_ = max_u32(min_u32(cwnd_, window.flight()) / 2, 2);
    cwnd_ = ssthresh_;
    cwnd_acc_ = 0;
    in_recovery_ = true;
    recovery_by_timeout_ = false;
    recovery_point_ = window.snd_nxt() - 1;
    fast_retransmit_due_ = true;
}

// Slow start below ssthresh (one message per message acked), then one message per window
// (RFC 5681 §3.1); not while recovering from a loss found by acks; never above the window.
void CongestionControl::grow_cwnd(std::uint32_t acked_messages) {
    if (in_recovery_ && !recovery_by_timeout_) return;
    if (rtt_.queueing() && cwnd_ >= min_u32(2 * ack_every_, window_)) return;
    while (acked_messages != 0 && cwnd_ < window_) {
        if (cwnd_ < ssthresh_) {
            ++cwnd_;
            --acked_messages;
            continue;
        }
        cwnd_acc_ += acked_messages;
        acked_messages = 0;
        if (cwnd_acc_ >= cwnd_) {
            cwnd_acc_ -= cwnd_;
            ++cwnd_;
        }
    }
}

CongestionControl::Timer CongestionControl::due(const SendWindow& window, std::uint64_t t) const {
    if (rto_armed_ && window.any_outstanding() && elapsed(t, rto_start_ns_) >= rtt_.rto_ns()) return Timer::retransmission;
    if (rack_armed_ && t >= rack_deadline_ns_) return Timer::rack;
    if (!probe_out_ && rtt_.have_sample() && window.any_outstanding() && elapsed(t, probe_start_ns_) >= probe_timeout()) {
        return Timer::probe;
    }
    return Timer::none;
}

// RFC 6298 §5.4-5.6 with RFC 5681 §3.1: every unacknowledged message is presumed lost, the
// congestion window restarts at one message (slow start up to half the old window), the RTO
// doubles. The caller sends the oldest at once; the rest follow as acks open the window, so a
// spurious timeout (a queue grew past the RTO) costs a few frames, and the acks of the
// originals, still arriving, clear the rest.
void CongestionControl::on_retransmission_timeout(SendWindow& window, std::uint64_t now) {
    ++stats_.timeouts;
    if (!(in_recovery_ && recovery_by_timeout_)) ssthresh_ = max_u32(min_u32(cwnd_, window.flight()) / 2, 2);
    cwnd_ = 1;
    cwnd_acc_ = 0;
    for (std::uint64_t m = window.acked() + 1; m < window.snd_nxt(); ++m) {
        SendSlot* s = window.outstanding(m);
        if (s != nullptr && !s->sacked && !s->lost) mark_lost(window, *s, true);
    }
    in_recovery_ = true;
    recovery_by_timeout_ = true;
    recovery_point_ = window.snd_nxt() - 1;
    rack_armed_ = false;
    rtt_.back_off();
    rto_armed_ = true;
    rto_start_ns_ = now;
}

}  // namespace tandem::link
