// The primary's side of a protected pair (DESIGN §1, §3, §5), driven at every 1 ms timer tick
// with the guest paused. It owns the protocol, not the hardware: the checkpoint engine captures,
// the stream queue buffers the encoded records, the transport carries them, the output-commit
// buffer holds the guest's frames.
//
//  waiting    no backup: the guest runs unprotected, its output passes straight through; the
//             link waits for a backup's HELLO.
//  syncing    a backup joined: epoch 0 is the whole guest (copy-on-write, or copied during the
//             pause with capture=copy) streamed while the guest runs, then epochs of the pages
//             dirtied meanwhile, until one transfer keeps up with the epoch length (the pre-copy
//             has converged). Output still passes through: the backup may not take over yet.
//  protected  from epoch P on (announced to the backup with a notice), the frames the guest
//             sends after the capture of epoch N leave only when the backup acknowledged N+1,
//             i.e. holds a state that produced them.
//
// Losing the backup (silent for the timeout, or a new backup session appearing) ends the epoch
// in flight, releases every held frame, says so, and waits for a backup again.
#pragma once

#include <cstdint>

#include "hypervisor/console/writer.hpp"
#include "hypervisor/vm/guest_memory.hpp"
#include "replication/engine/checkpoint_engine.hpp"
#include "replication/engine/output_commit.hpp"
#include "replication/engine/progress_rate.hpp"
#include "replication/engine/stream_queue.hpp"
#include "replication/link/observation_report.hpp"
#include "replication/link/transport.hpp"

namespace tandem::engine {

struct PrimaryOptions {
    std::uint64_t epoch_ticks = 0;     // clock ticks between epoch boundaries
    std::uint64_t slice_ticks = 0;     // at most this long encoding per tick
    std::uint64_t progress_ticks = 0;  // a progress line this often while syncing (0: never)
    std::uint64_t ticks_per_second = 0;  // the clock's rate, for the progress line's pages per second
    std::uint32_t max_sync_rounds = 50;  // protect from then on even if the pre-copy did not converge
    std::uint32_t sync_share_percent = 50;  // of the time, at most, for the copy to a joining backup
    std::uint32_t epoch_ms = 0;             // epoch_ticks in milliseconds (for messages)
    // A tick's encoding stops this long after its exit began (0: no bound): no exit may hold the
    // guest long, the copy's credit included (ARCHITECTURE.md, "What bounds an exit").
    std::uint64_t exit_budget_ticks = 0;
    bool epoch_report = false;           // one "checkpoint-epoch:" line per completed epoch
};

struct PrimaryStats {
    std::uint64_t backups_joined = 0;
    std::uint64_t backups_lost = 0;
    std::uint64_t epochs_completed = 0;
    std::uint64_t acks = 0;
    std::uint64_t unexpected_messages = 0;
    std::uint64_t pause_ticks_total = 0, pause_ticks_max = 0;
    std::uint64_t dirty_pages_total = 0, stream_bytes_total = 0;
    std::uint64_t stretched_epochs = 0;  // epochs that lasted over twice their length (backpressure)
};

// Lockstep (issue 13): once protected, epochs are captured when the driver asks, not by the
// clock; it learns of every capture, acknowledgement and loss, and gets the backup's `forward`
// messages.
class EpochDriver {
public:
    virtual bool boundary_due() = 0;
    virtual void captured(std::uint64_t epoch, bool protecting) = 0;
    virtual void acknowledged(std::uint64_t epoch) = 0;
    virtual void backup_lost() = 0;
    virtual void on_forward(std::span<const std::uint8_t> payload) = 0;

protected:
    ~EpochDriver() = default;
};

class PrimaryReplicator final : public link::MessageSink, public Keepalive {
public:
    enum class Phase : std::uint8_t { waiting, syncing, protecting };
    using SessionSource = std::uint64_t (*)();

    PrimaryReplicator(CheckpointEngine& engine, StreamQueue& queue, OutputCommitBuffer& output, link::Transport& transport,
                      const TickClock& clock, Writer& out)
        : engine_(engine), queue_(queue), output_(output), transport_(transport), clock_(clock), out_(out) {}

    // Starts the link as the primary (role forced) and waits for a backup; every restart takes a
    // fresh session id from new_session.
    Status listen(const link::TransportConfig& config, const link::LinkSecret& secret, SessionSource new_session,
                  const PrimaryOptions& options);
    // One timer tick, guest paused; received link frames were handed to the transport before,
    // from `exit_began` on (the clock's ticks; 0: now): exit_budget_ticks counts from then.
    Status tick(std::uint64_t exit_began = 0);
    void on_message(const link::Message& message) override;
    // From inside a long copy or transfer: a heartbeat if one is due (keepalive.hpp).
    void keepalive() override { transport_.keepalive(); }

    void set_driver(EpochDriver* driver) { driver_ = driver; }
    // The epoch length from the next epoch boundary on (the shell's `epoch`).
    void set_epoch(std::uint32_t ms, std::uint64_t ticks) {
        options_.epoch_ms = ms;
        options_.epoch_ticks = ticks;
    }
    std::uint32_t epoch_ms() const { return options_.epoch_ms; }

    Phase phase() const { return phase_; }
    // Closed joins (a machine booted mode=standalone, until `migrate` is asked): a machine on the
    // link gets no copy and waits; joiner_waiting() says one does.
    void set_joins_open(bool open) { joins_open_ = open; }
    bool joiner_waiting() const { return phase_ == Phase::waiting && transport_.established(); }
    // Checkpointing runs (dirty tracking and copy-on-write faults belong to the engine).
    bool capturing() const { return phase_ != Phase::waiting; }
    bool has_ack() const { return has_ack_; }
    std::uint64_t acked_epoch() const { return acked_; }
    std::uint64_t protected_from() const { return protected_from_; }
    std::uint32_t sync_rounds() const { return sync_round_; }  // pre-copy rounds of the last join
    // Ticks from the capture of the last acknowledged epoch to its acknowledgement (0: none yet):
    // about what a last copy with the guest stopped costs (auto-converge, pair_migrate.cpp).
    std::uint64_t last_ack_latency() const { return ack_latency_; }
    const PrimaryStats& stats() const { return stats_; }
    // Clock ticks spent in tick(), all told (the replication's share of the machine's time).
    std::uint64_t busy_ticks() const { return busy_ticks_; }
    void status(Writer& out) const;

    // `failover` on the console: whether the backup holds a protected epoch it could take over
    // from; then, with this machine's guest stopped for good, the notice that tells it to
    // (false: the link's window is full, try again).
    bool can_hand_over() const { return phase_ == Phase::protecting && has_ack_ && acked_ >= protected_from_; }
    bool send_handover();
    // The notice went unacknowledged and nothing runs the guest elsewhere: it resumes here. The
    // backup is dropped and the link starts over with a new session, so the old one's notice,
    // still queued for retransmission, can never reach it later.
    void withdraw_handover(const char* why) { lose_backup(why); }
    // The figures of the last epoch whose transfer completed (nullptr before the first).
    const EpochStats* last_completed() const { return engine_.has_completed() ? &engine_.completed_stats() : nullptr; }
    std::uint64_t epochs_captured() const { return engine_.epochs_started(); }
    std::uint64_t last_captured_epoch() const { return engine_.stats().epoch; }

private:
    static constexpr std::size_t kStepRoom = 64 * 1024;  // queue room needed to encode one more page
    static constexpr std::uint64_t kCopySilenceFactor = 10;  // a copying backup's silence bound, in silence timeouts

    Status tick_work(std::uint64_t started, std::uint64_t encode_until);
    Status begin_sync();
    Status boundary();
    void pump();
    void after_transfer();
    void note_backpressure(std::uint64_t epoch_ticks);
    // restart: start the link over (a new session of ours); not when the link already carries
    // the backup's new session.
    void lose_backup(const char* why, bool restart = true);
    bool backup_silent() const;
    void restart_link();
    void note_ack_latency(std::uint64_t epoch);
    void fail(const char* what, const Error& e);

    CheckpointEngine& engine_;
    StreamQueue& queue_;
    OutputCommitBuffer& output_;
    link::Transport& transport_;
    const TickClock& clock_;
    Writer& out_;
    EpochDriver* driver_ = nullptr;

    link::TransportConfig config_{};
    link::LinkSecret secret_{};
    SessionSource new_session_ = nullptr;
    PrimaryOptions options_{};

    Phase phase_ = Phase::waiting;
    std::uint64_t restarts_seen_ = 0;
    bool refusal_reported_ = false;
    bool joins_open_ = true;
    link::ObservationReport observations_;
    std::uint64_t refused_at_ = 0;
    std::uint64_t next_epoch_at_ = 0;
    std::uint64_t last_capture_at_ = 0;
    std::uint64_t next_progress_at_ = 0;
    std::uint64_t next_backpressure_note_ = 0;
    std::uint64_t busy_ticks_ = 0;  // spent in tick(), all told
    std::uint64_t last_tick_at_ = 0;
    std::int64_t credit_ = 0;  // ticks the copy to a joining backup may still spend
    std::uint64_t progress_since_ = 0, busy_at_progress_ = 0;
    ProgressRate copy_rate_;
    std::uint32_t sync_round_ = 0;
    std::uint64_t first_epoch_ = 0;
    std::uint64_t protected_from_ = 0;
    bool notice_pending_ = false;
    bool has_ack_ = false;
    bool announced_protected_ = false;
    std::uint64_t acked_ = 0;
    std::uint64_t completed_seen_ = 0;
    struct Capture {
        std::uint64_t epoch = 0, at = 0;
    };
    static constexpr std::size_t kCaptures = 64;
    Capture captures_[kCaptures]{};  // the last epochs' capture times, by epoch % kCaptures
    std::uint64_t ack_latency_ = 0;
    bool completed_any_ = false;
    PrimaryStats stats_{};
    std::uint8_t message_[link::kMaxPayload]{};
};

const char* primary_phase_name(PrimaryReplicator::Phase phase);

}  // namespace tandem::engine
