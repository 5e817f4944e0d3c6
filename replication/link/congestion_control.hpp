// Loss detection and congestion control of the replication link (DESIGN.md §4), counted in
// messages: when a message in the send window (send_window.hpp) is presumed lost, and how many
// may be in the network. No wire-format change was needed for any of this (protocol version 1).
//
//  - Congestion window (RFC 5681, RFC 6675): slow start from initial_cwnd, then one more per
//    window acknowledged, never above `window`. The path's queue is watched (rtt_estimator.hpp):
//    while a queue of a minimum RTT or more stands, the window stops growing (not below two
//    acks' worth, 2 ack_every, where the receiver's ack delay rather than a queue sets the round
//    trip) and slow start ends, so a slow, queueing path (an emulator delivering one frame per
//    millisecond into a socket buffer) is kept busy without a queue that grows to the window;
//    and a loss found by acks then halves the window (once per window of data), as does a burst
//    of losses (over an eighth of the flight: a shallow buffer overflowing). Any other loss is
//    damage, not congestion (a flipped bit on a dedicated cable): resent, no slow-down. A fast
//    path is limited by the window only.
//  - Loss detection: a message is lost when dupthresh messages sent after it were selectively
//    acked (3, RFC 6675; raised to the reordering the link shows), or when a message sent after
//    it was acked and a reordering allowance has passed beyond that one's round trip (RACK, RFC
//    8985: also finds lost retransmissions). When acks stop while messages are out, one probe
//    after two RTTs draws an ack (tail loss probe, RFC 8985 §7). Lost messages are resent first.
//  - Retransmission timeout, the last resort: one timer (RFC 6298) on the oldest message, Karn's
//    rule per ack (AckSamples), exponential backoff to max_rto kept until the next valid sample
//    (§5.5-5.7). On expiry every unacked message is presumed lost and resent from a congestion
//    window of one, so a spurious timeout (a queue grew past the RTO) costs a few frames, not a
//    window: the acks of the originals, still on their way, clear the rest and give samples.
//
// There is no pacing beyond the ack clock: messages leave as acks open the window.
#pragma once

#include <cstdint>

#include "replication/link/rtt_estimator.hpp"
#include "replication/link/send_window.hpp"
#include "replication/link/transport_config.hpp"
#include "replication/link/transport_stats.hpp"

namespace tandem::link {

// What one ack newly delivered, for the RTT samples. Karn's rule per ack, as Linux applies it:
// no sample from an ack that also covers a retransmitted message (the retransmission may be what
// made the peer ack, and then the other messages' times measure the outage, not the path).
struct AckSamples {
    static constexpr std::uint64_t kNone = ~std::uint64_t{0};
    std::uint64_t oldest_sent_ns = kNone;  // of the messages sent once: the timer's sample
    std::uint64_t newest_sent_ns = 0;      // ... and the path's (RttEstimator::delay_sample)
    bool retransmitted = false;
    std::uint32_t delivered = 0;

    void add(const SendSlot& s);
    bool valid() const { return oldest_sent_ns != kNone && !retransmitted; }
};

class CongestionControl {
public:
    // The "duplicate ack threshold" of TCP (RFC 5681 §3.2, RFC 6675 §2); raised when the link is
    // seen to reorder that much (as Linux does), so reordering is not taken for loss.
    static constexpr std::uint32_t kDupThreshold = 3;
    static constexpr std::uint32_t kMaxDupThreshold = kMaxWindow - 1;

    enum class Timer : std::uint8_t { none, retransmission, rack, probe };

    explicit CongestionControl(TransportStats& stats) : stats_(stats) {}
    CongestionControl(const CongestionControl&) = delete;
    CongestionControl& operator=(const CongestionControl&) = delete;

    void reset(const TransportConfig& config);

    // Sending. Every message frame (a first copy or a resend) arms the timers it needs.
    void on_transmit(std::uint64_t now);
    // The oldest outstanding message was resent at `sent_ns`: its new copy gets a full RTO.
    void on_oldest_resent(std::uint64_t sent_ns) { rto_start_ns_ = sent_ns; }
    // Recovery began: the oldest lost message goes at once, whatever the pipe (RFC 6675 §5).
    [[nodiscard]] bool take_fast_retransmit();
    // A tail loss probe goes out (one per silence).
    void on_probe();

    // One ack, in this order: each newly delivered message (while the window still holds it),
    // the RTT samples when valid, the cumulative progress if any, the count delivered if any,
    // then detect_losses().
    void on_newly_delivered(const SendWindow& window, const SendSlot& slot, std::uint64_t now);
    void on_rtt_samples(std::uint64_t timer_sample_ns, std::uint64_t path_sample_ns, std::uint64_t now);
    void on_cumulative_ack(const SendWindow& window, std::uint64_t now);
    void on_delivered(std::uint32_t messages, std::uint64_t now);
    // Marks lost what the acks (dupthresh, RACK) show is; arms the RACK timer for the rest.
    void detect_losses(SendWindow& window, std::uint64_t now);

    // The timer that fired, if any (the retransmission timer first, then RACK, then the probe).
    Timer due(const SendWindow& window, std::uint64_t now) const;
    // The retransmission timer fired: everything unacked is lost, the window restarts at one.
    void on_retransmission_timeout(SendWindow& window, std::uint64_t now);

    std::uint32_t cwnd() const { return cwnd_; }
    std::uint32_t ssthresh() const { return ssthresh_; }
    bool in_recovery() const { return in_recovery_; }
    std::uint32_t dupthresh() const { return dupthresh_; }
    const RttEstimator& rtt() const { return rtt_; }
    std::uint64_t rto_ns() const { return rtt_.rto_ns(); }
    std::uint64_t reordering_window() const;
    std::uint64_t probe_timeout() const;

private:
    void mark_lost(SendWindow& window, SendSlot& slot, bool by_timeout);
    void enter_recovery(const SendWindow& window);
    void grow_cwnd(std::uint32_t acked_messages);

    TransportStats& stats_;
    std::uint32_t window_ = kMaxWindow;
    std::uint32_t ack_every_ = 1;
    std::uint64_t ack_delay_ns_ = 0;
    RttEstimator rtt_{};
    bool rto_armed_ = false;
    std::uint64_t rto_start_ns_ = 0;
    std::uint32_t cwnd_ = 0;
    std::uint32_t ssthresh_ = 0;
    std::uint32_t cwnd_acc_ = 0;  // messages acked towards the next additive increase
    bool in_recovery_ = false;    // no further reduction until recovery_point_ is acked
    bool recovery_by_timeout_ = false;  // ... and it began with a timeout: slow start meanwhile
    bool fast_retransmit_due_ = false;
    std::uint64_t recovery_point_ = 0;
    // RACK: the newest transmission known to have arrived (its frame seq), its round trip, and
    // the reordering seen so far (how late a message arrived after one sent after it).
    std::uint64_t rack_seq_ = 0;
    std::uint64_t rack_rtt_ns_ = 0;
    std::uint64_t rack_ns_ = 0;     // when rack_seq_ last advanced
    std::uint64_t reorder_ns_ = 0;  // largest lateness observed
    bool rack_armed_ = false;
    std::uint64_t rack_deadline_ns_ = 0;
    std::uint32_t dupthresh_ = kDupThreshold;
    // Tail loss probe: armed by a transmission or an ack that delivers; one per silence.
    bool probe_out_ = false;
    std::uint64_t probe_start_ns_ = 0;
};

}  // namespace tandem::link
