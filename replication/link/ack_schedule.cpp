#include "replication/link/ack_schedule.hpp"

#include "replication/link/link_time.hpp"

namespace tandem::link {

void AckSchedule::reset(std::uint32_t ack_every, const TransportTiming& timing) {
    ack_every_ = ack_every;
    timing_ = timing;
    ack_pending_ = ack_now_ = nack_now_ = false;
    unacked_messages_ = 0;
    ack_pending_since_ns_ = 0;
    last_arrival_ns_ = 0;
    arrival_gap_ns_ = 0;
    nack_sent_ = false;
    last_nack_ns_ = 0;
}

void AckSchedule::carried() {
    ack_pending_ = false;
    ack_now_ = nack_now_ = false;
    unacked_messages_ = 0;
}

// Also keeps the pace of arrivals: a moving average of the gaps (a pause longer than the longest
// ack timeout is not a gap but the end of a burst).
void AckSchedule::on_message(std::uint64_t now) {
    if (!ack_pending_) {
        ack_pending_ = true;
        ack_pending_since_ns_ = now;
    }
    ++unacked_messages_;
    if (last_arrival_ns_ != 0) {
        const std::uint64_t gap = elapsed(now, last_arrival_ns_);
        if (gap <= kMaxAckTimeoutRtos * timing_.min_rto_ns) arrival_gap_ns_ = (7 * arrival_gap_ns_ + gap) / 8;
    }
    last_arrival_ns_ = now;
}

// Shown to the sender at once, on the next frame that leaves, else in a NACK; rate-limited.
// Arrivals above a hole already shown are acked as usual (ack_every, the ack timeout).
void AckSchedule::on_new_hole(std::uint64_t now) {
    if (nack_sent_ && elapsed(now, last_nack_ns_) < timing_.nack_interval_ns) return;
    nack_sent_ = true;
    last_nack_ns_ = now;
    nack_now_ = ack_now_ = true;
}

bool AckSchedule::due(bool timer, std::uint64_t now) const {
    bool due = ack_now_ || unacked_messages_ >= ack_every_;
    if (timer && ack_pending_ && elapsed(now, ack_pending_since_ns_) >= timeout()) due = true;
    return due && (ack_pending_ || ack_now_);
}

std::uint64_t AckSchedule::timeout() const {
    std::uint64_t pace = arrival_gap_ns_ * ack_every_;
    const std::uint64_t limit = timing_.min_rto_ns * kMaxAckTimeoutRtos;  // bounded: inside the peer's RTO
    if (pace > limit) pace = limit;
    return pace > timing_.ack_delay_ns ? pace : timing_.ack_delay_ns;
}

}  // namespace tandem::link
