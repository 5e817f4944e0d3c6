#include "replication/link/rtt_estimator.hpp"

#include "replication/link/link_time.hpp"

namespace tandem::link {

void RttEstimator::reset(const TransportTiming& timing) {
    timing_ = timing;
    have_rtt_ = false;
    srtt_ns_ = rttvar_ns_ = min_rtt_ns_ = 0;
    rto_ns_ = timing.initial_rto_ns;
    backoff_ = 0;
    round_start_ns_ = round_min_ns_ = last_round_min_ns_ = 0;
    round_samples_ = 0;
    queueing_ = false;
}

// max_rto bounds the backoff, so that the link resumes soon after a partition heals; but a path
// whose round trip exceeds it (a delayed or distant link) would then time out every message, and
// Karn's rule would never let a sample in to learn better. Up to half the silence timeout a round
// trip leaves time to retransmit before the peer counts as silent: the cap allows for that much.
std::uint64_t RttEstimator::rto_cap() const {
    const std::uint64_t half_silence = timing_.silence_timeout_ns / 2;
    return timing_.max_rto_ns > half_silence ? timing_.max_rto_ns : half_silence;
}

std::uint64_t RttEstimator::rto_ns() const {
    const std::uint64_t base = have_rtt_ ? rto_ns_ : timing_.initial_rto_ns;
    const std::uint64_t cap = rto_cap();
    if (backoff_ >= 63 || base > (cap >> backoff_)) return cap;
    const std::uint64_t rto = base << backoff_;
    return rto < cap ? rto : cap;
}

// RFC 6298 §2 (first sample: SRTT = R, RTTVAR = R/2; then the 1/4 and 1/8 gains).
void RttEstimator::sample(std::uint64_t r) {
    if (!have_rtt_) {
        srtt_ns_ = r;
        rttvar_ns_ = r / 2;
        have_rtt_ = true;
    } else {
        const std::uint64_t diff = srtt_ns_ > r ? srtt_ns_ - r : r - srtt_ns_;
        rttvar_ns_ = (3 * rttvar_ns_ + diff) / 4;
        srtt_ns_ = (7 * srtt_ns_ + r) / 8;
    }
    const std::uint64_t granularity = timing_.min_rto_ns / 4;
    const std::uint64_t var = 4 * rttvar_ns_ > granularity ? 4 * rttvar_ns_ : granularity;
    std::uint64_t rto = srtt_ns_ + var;
    if (rto < timing_.min_rto_ns) rto = timing_.min_rto_ns;
    if (rto > rto_cap()) rto = rto_cap();
    rto_ns_ = rto;
    backoff_ = 0;
}

bool RttEstimator::delay_sample(std::uint64_t r, std::uint64_t now) {
    if (r == 0) r = 1;
    if (min_rtt_ns_ == 0 || r < min_rtt_ns_) min_rtt_ns_ = r;
    if (round_min_ns_ == 0 || r < round_min_ns_) round_min_ns_ = r;
    ++round_samples_;
    // The least of a few samples is noise where the round trip jitters.
    if (elapsed(now, round_start_ns_) < srtt_ns_ || round_samples_ < kRoundSamples) return false;
    last_round_min_ns_ = round_min_ns_;
    round_min_ns_ = 0;
    round_samples_ = 0;
    round_start_ns_ = now;
    queueing_ = last_round_min_ns_ >= 2 * min_rtt_ns_;
    return true;
}

void RttEstimator::back_off() {
    if (backoff_ < kMaxBackoff) ++backoff_;
}

}  // namespace tandem::link
