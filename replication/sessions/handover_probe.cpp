#include "replication/sessions/handover_probe.hpp"

namespace tandem::sessions {

void HandoverProbe::start(std::uint64_t now_ns, std::uint64_t window_ns, std::uint64_t random_a,
                          std::uint64_t random_b) {
    challenge_ = link::Challenge::from_words(random_a, random_b);
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
    if (reply.challenge == challenge_) answered_ = true;
}

}  // namespace tandem::sessions
