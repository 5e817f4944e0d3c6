#include "replication/sessions/handover_probe.hpp"

namespace tandem::sessions {

void HandoverProbe::start(std::uint64_t now_ns, std::uint64_t window_ns, std::uint64_t random_a,
                          std::uint64_t random_b) {
    for (std::size_t i = 0; i < 8; ++i) {
        challenge_.bytes[i] = static_cast<std::uint8_t>(random_a >> (8 * i));
        challenge_.bytes[8 + i] = static_cast<std::uint8_t>(random_b >> (8 * i));
    }
    active_ = true;
    answered_ = false;
    since_ns_ = now_ns;
    window_ns_ = window_ns;
    next_probe_ns_ = now_ns;
    probes_sent_ = 0;
}

HandoverProbe::Verdict HandoverProbe::poll(std::uint64_t now_ns, engine::ProbeSender& sender) {
    if (answered_) return Verdict::answered;
    if (now_ns - since_ns_ >= window_ns_ && probes_sent_ > 0) return Verdict::unanswered;
    if (now_ns >= next_probe_ns_) {
        sender.send_probe(challenge_);
        ++probes_sent_;
        next_probe_ns_ = now_ns + kProbeIntervalNs;
    }
    return Verdict::asking;
}

void HandoverProbe::on_probe_reply(const link::ProbeFrame& reply) {
    if (!active_ || reply.kind != link::ProbeKind::reply) return;
    for (std::size_t i = 0; i < link::kChallengeSize; ++i) {
        if (reply.challenge.bytes[i] != challenge_.bytes[i]) return;
    }
    answered_ = true;
}

}  // namespace tandem::sessions
