// Whether the peer runs the guest after a hand-over notice it did not acknowledge (issue 15:
// "exactly one machine runs the guest ... with the split-brain guard's probe where it cannot be
// known"). The notice may have arrived (the peer took over, its acknowledgement was lost) or not
// (the peer died, or the link failed first). A machine that runs the guest answers authenticated
// probes on the client network at once (split_brain_probe.hpp); a backup never does. So the
// primary that stopped asks for the guest there: an answer means the peer runs it and this machine
// must not; none within the window means it does not, and the guest resumes here.
//
// The window is long (failover_ms, against the backup's 50 ms): the peer may still be restoring
// the guest from the notice that came late, and answers only once it runs it. Resuming late costs
// downtime in a rare failure; resuming wrongly would run the guest twice.
#pragma once

#include <cstdint>

#include "replication/engine/backup_replicator.hpp"
#include "replication/link/client_probe.hpp"

namespace tandem::sessions {

class HandoverProbe final : public engine::ProbeReplySink {
public:
    enum class Verdict : std::uint8_t { asking, answered, unanswered };
    static constexpr std::uint64_t kProbeIntervalNs = 10'000'000;

    // A fresh challenge (from two random words) and a window starting now.
    void start(std::uint64_t now_ns, std::uint64_t window_ns, std::uint64_t random_a, std::uint64_t random_b);
    // Sends a probe when one is due; the verdict once known (answered at the first valid reply).
    Verdict poll(std::uint64_t now_ns, engine::ProbeSender& sender);
    // Only a reply carrying this probe's challenge counts (an old or replayed one does not).
    void on_probe_reply(const link::ProbeFrame& reply) override;

    bool active() const { return active_; }
    void stop() { active_ = false; }
    std::uint32_t probes_sent() const { return probes_sent_; }
    std::uint64_t elapsed_ns(std::uint64_t now_ns) const { return now_ns - since_ns_; }

private:
    link::Challenge challenge_{};
    bool active_ = false;
    bool answered_ = false;
    std::uint64_t since_ns_ = 0;
    std::uint64_t window_ns_ = 0;
    std::uint64_t next_probe_ns_ = 0;
    std::uint32_t probes_sent_ = 0;
};

}  // namespace tandem::sessions
