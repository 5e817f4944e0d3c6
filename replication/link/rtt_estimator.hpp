// Round-trip time on the replication link: the retransmission timeout (RFC 6298) and the queue
// watch that congestion control (congestion_control.hpp) uses to tell congestion from damage.
//
//  - sample(): one valid sample per ack (Karn's rule is the caller's: none from an ack covering
//    a retransmitted message), the oldest message it newly covers: what the oldest outstanding
//    message can take, acks being delayed and coalesced, is what the timer must allow for.
//    SRTT, RTTVAR and RTO = SRTT + max(G, 4 RTTVAR) clamped to [min_rto, rto_cap()] (§2), G being
//    a quarter of min_rto; a valid sample clears the backoff, which is kept until then (§5.7).
//  - delay_sample(): the newest message an ack covers (the one that made the receiver ack, so
//    little of its ack delay is in it) measures the path: its minimum is the round trip without
//    a queue, and the least sample of a round (at least one SRTT and kRoundSamples samples) shows
//    the queue that stands meanwhile: jitter and ack delays raise some samples, a standing queue
//    raises all of them. A queue "stands" while that least sample is twice the minimum or more.
#pragma once

#include <cstdint>

#include "replication/link/transport_config.hpp"

namespace tandem::link {

class RttEstimator {
public:
    static constexpr std::uint32_t kMaxBackoff = 16;
    static constexpr std::uint32_t kRoundSamples = 8;

    void reset(const TransportTiming& timing);

    void sample(std::uint64_t rtt_ns);
    // True when this sample ended a round (queueing() was just re-evaluated).
    bool delay_sample(std::uint64_t rtt_ns, std::uint64_t now);
    // The retransmission timer expired: the RTO doubles (§5.5), up to max_rto.
    void back_off();

    // The RTO with the backoff applied, never above rto_cap(); initial_rto before any sample.
    std::uint64_t rto_ns() const;
    // max_rto, or half the silence timeout if that is longer (rtt_estimator.cpp).
    std::uint64_t rto_cap() const;
    bool have_sample() const { return have_rtt_; }
    std::uint64_t srtt_ns() const { return srtt_ns_; }
    std::uint64_t rttvar_ns() const { return rttvar_ns_; }
    std::uint64_t min_rtt_ns() const { return min_rtt_ns_; }
    std::uint32_t backoff() const { return backoff_; }
    bool queueing() const { return queueing_; }

private:
    TransportTiming timing_{};
    bool have_rtt_ = false;
    std::uint64_t srtt_ns_ = 0;
    std::uint64_t rttvar_ns_ = 0;
    std::uint64_t min_rtt_ns_ = 0;
    std::uint64_t rto_ns_ = 0;
    std::uint32_t backoff_ = 0;  // doublings of the RTO; cleared by the next valid RTT sample only
    // Queueing delay: the least round trip of the last full round against the least ever seen.
    std::uint64_t round_start_ns_ = 0;
    std::uint64_t round_min_ns_ = 0;  // 0: no sample in this round yet
    std::uint64_t last_round_min_ns_ = 0;
    std::uint32_t round_samples_ = 0;
    bool queueing_ = false;  // the last round's least sample was at least twice the minimum
};

}  // namespace tandem::link
