// The backup's side of a protected pair (DESIGN §3 step 6, §5). It follows the primary's
// checkpoint stream into the backup image (each epoch staged, validated, applied whole) and
// acknowledges every committed epoch. When the primary falls silent on the link for the
// timeout, it probes the primary on the client network (the split-brain guard): an answer means
// the link, not the primary, failed — the backup does not promote, its image is stale from then
// on (the primary serves unprotected), so it starts over as a new backup. No answer within the
// probe window, and a committed epoch the primary declared protected: promote.
//
// Polled: the owner hands received link frames to the transport, valid probe replies to
// on_probe_reply(), and calls poll() often; poll() returning true means "take over now".
#pragma once

#include <cstdint>

#include "hypervisor/console/writer.hpp"
#include "replication/checkpoint/backup_image.hpp"
#include "replication/checkpoint/decoder.hpp"
#include "replication/engine/keepalive.hpp"
#include "replication/engine/progress_rate.hpp"
#include "replication/link/client_probe.hpp"
#include "replication/link/observation_report.hpp"
#include "replication/link/transport.hpp"

namespace tandem::engine {

class ProbeSender {
public:
    virtual void send_probe(const link::Challenge& challenge) = 0;

protected:
    ~ProbeSender() = default;
};

// Where authenticated probe replies seen on the client network go: the backup's split-brain
// guard, or a primary that must learn whether its unacknowledged hand-over was taken.
class ProbeReplySink {
public:
    virtual void on_probe_reply(const link::ProbeFrame& reply) = 0;

protected:
    ~ProbeReplySink() = default;
};

struct BackupOptions {
    std::uint64_t probe_interval_ns = 10'000'000;
    std::uint32_t probes = 5;              // the window is probes * probe_interval
    std::uint64_t progress_ns = 1'000'000'000;
    std::uint64_t retry_after_refusal_ns = 1'000'000'000;
};

struct BackupStats {
    std::uint64_t epochs_committed = 0;
    std::uint64_t acks_sent = 0;
    std::uint64_t stream_bytes = 0;
    std::uint64_t probes_sent = 0;
    std::uint64_t probe_replies = 0;
    std::uint64_t stale_rejoins = 0;
    std::uint64_t answered_probes = 0;  // the primary answered: the link, not the primary, had failed
    std::uint64_t primary_restarts = 0;  // the primary proved a new link session
    std::uint64_t unexpected_messages = 0;
};

// When a takeover's stages happened, on the link's clock (ns): what the failover gap is made of.
struct TakeoverTimes {
    std::uint64_t last_heard_ns = 0;       // the primary's last authenticated frame
    std::uint64_t silence_noticed_ns = 0;  // this backup found it silent and began probing
    std::uint64_t decided_ns = 0;          // the probe window ended unanswered: take over
};

class BackupReplicator final : public link::MessageSink, public Keepalive, public ProbeReplySink {
public:
    enum class State : std::uint8_t { connecting, following, probing, takeover };
    using Random64 = std::uint64_t (*)();

    BackupReplicator(checkpoint::BackupImage& image, checkpoint::StreamDecoder& decoder, link::Transport& transport,
                     link::Clock& clock, ProbeSender& prober, Writer& out)
        : image_(image), decoder_(decoder), transport_(transport), clock_(clock), prober_(prober), out_(out) {}

    // Starts the link as the backup (role forced). random gives session ids and challenges.
    Status listen(const link::TransportConfig& config, const link::LinkSecret& secret, Random64 random,
                  const BackupOptions& options);
    // Right before the link's received frames are handed to this backup: the next poll() judges
    // the primary's silence as of this moment, so the time this backup then spends on what it
    // received (applying a large epoch in one step) is not counted as the primary's silence.
    void listening() { listened_at_ns_ = clock_.now_ns(); }
    // True once: the primary is gone and this backup holds a protected epoch: take over now.
    bool poll();
    void on_probe_reply(const link::ProbeFrame& reply) override;
    void on_message(const link::Message& message) override;
    // From inside a long apply: a heartbeat if one is due (keepalive.hpp).
    void keepalive() override { transport_.keepalive(); }
    // Lockstep (issue 13): where the primary's `forward` messages go (none: unexpected).
    void set_forward_sink(link::MessageSink* sink) { forward_ = sink; }

    State state() const { return state_; }
    // The committed epoch is one the primary protected: a takeover keeps every promise made.
    // Not after the primary answered a probe (the link, not the primary, failed) until its
    // traffic on the same session returns: it may have released output meanwhile, unprotected.
    bool is_protected() const {
        return has_notice_ && !unconfirmed_ && image_.has_committed() && image_.committed_epoch() >= protected_from_;
    }
    const BackupStats& stats() const { return stats_; }
    // The takeover was asked for by the primary (its `failover`), not caused by its silence.
    bool handed_over() const { return handed_over_; }
    // Of the takeover poll() asked for because the primary fell silent.
    const TakeoverTimes& takeover_times() const { return takeover_times_; }
    void status(Writer& out) const;

private:
    void forget_stream();
    void rejoin(const char* why);
    void send_ack();
    void begin_probing(const char* why);
    void follow_new_primary_session();
    void note_progress();
    bool take_handover();

    checkpoint::BackupImage& image_;
    checkpoint::StreamDecoder& decoder_;
    link::Transport& transport_;
    link::Clock& clock_;
    std::uint64_t listened_at_ns_ = 0;  // listening(); 0: judge silence as of now
    ProbeSender& prober_;
    Writer& out_;
    link::MessageSink* forward_ = nullptr;

    link::TransportConfig config_{};
    link::LinkSecret secret_{};
    Random64 random_ = nullptr;
    BackupOptions options_{};

    State state_ = State::connecting;
    std::uint64_t restarts_seen_ = 0;
    bool refusal_reported_ = false;
    link::ObservationReport observations_;
    std::uint64_t refused_at_ = 0;
    bool has_notice_ = false;
    std::uint64_t protected_from_ = 0;
    bool announced_protected_ = false;
    bool acked_any_ = false;
    std::uint64_t acked_ = 0;
    bool stream_failed_ = false;
    std::uint64_t next_progress_ns_ = 0;
    ProgressRate copy_rate_;
    // Probing.
    link::Challenge challenge_{};
    std::uint32_t probes_sent_ = 0;
    std::uint64_t probing_since_ns_ = 0;
    TakeoverTimes takeover_times_{};
    std::uint64_t next_probe_ns_ = 0;
    bool answered_ = false;
    // The primary answered a probe at unconfirmed_since_ns_: the image may be stale until the
    // primary's traffic of the same session shows it kept this backup (is_protected()).
    bool unconfirmed_ = false;
    std::uint64_t unconfirmed_since_ns_ = 0;
    bool handover_requested_ = false;
    bool handed_over_ = false;
    BackupStats stats_{};
};

const char* backup_state_name(BackupReplicator::State state);

}  // namespace tandem::engine
