#include "replication/engine/primary_replicator.hpp"

#include "replication/engine/pair_notice.hpp"

namespace tandem::engine {

const char* primary_phase_name(PrimaryReplicator::Phase phase) {
    switch (phase) {
    case PrimaryReplicator::Phase::waiting: return "waiting for a backup (UNPROTECTED)";
    case PrimaryReplicator::Phase::syncing: return "copying the guest to the backup (not yet protected)";
    case PrimaryReplicator::Phase::protecting: return "protected";
    }
    return "?";
}

Status PrimaryReplicator::listen(const link::TransportConfig& config, const link::LinkSecret& secret,
                                 SessionSource new_session, const PrimaryOptions& options) {
    if (options.epoch_ticks == 0 || options.slice_ticks == 0) return Error::of("pair: epoch and slice lengths must be set");
    if (new_session == nullptr) return Error::of("pair: no session id source");
    config_ = config;
    config_.role = Role::primary;
    secret_ = secret;
    new_session_ = new_session;
    options_ = options;
    phase_ = Phase::waiting;
    output_.set_holding(false);
    config_.session_id = new_session_();
    engine_.set_keepalive(this);
    return transport_.start(config_, secret_);
}

void PrimaryReplicator::restart_link() {
    config_.session_id = new_session_();
    refusal_reported_ = false;
    observations_.reset();
    if (auto s = transport_.start(config_, secret_); !s) {
        print(out_, "pair: the link could not restart: ");
        println(out_, "{}", s.error());
    }
}

void PrimaryReplicator::fail(const char* what, const Error& e) {
    print(out_, "pair: checkpointing failed ({}): ", what);
    println(out_, "{}", e);
    lose_backup("checkpointing stopped");
}

void PrimaryReplicator::lose_backup(const char* why, bool restart) {
    bool was_protecting = phase_ == Phase::protecting;
    std::size_t held = output_.held();
    engine_.abandon();
    queue_.clear();
    output_.set_holding(false);  // no backup to wait for: the held frames go now
    phase_ = Phase::waiting;
    notice_pending_ = false;
    has_ack_ = false;
    ack_latency_ = 0;
    announced_protected_ = false;
    ++stats_.backups_lost;
    if (driver_ != nullptr) driver_->backup_lost();
    println(out_, "pair: backup lost ({}): the guest keeps running UNPROTECTED{}; {} held frames released; waiting for a "
                  "backup to join",
            why, was_protecting ? "" : " (the backup never reached protection)", held);
    if (restart) restart_link();
}

// A protected backup silent for the link's silence timeout (failover_ms) is lost: the guest's
// output waits for it. A backup still receiving its copy holds nothing back and could not take
// over: it is given kCopySilenceFactor times as long, so that a loaded machine pausing in a long
// copy (seen in Bochs under CI load: a joining target unheard for over 300 ms) is not abandoned
// and the copy (or a migration) started again from nothing.
bool PrimaryReplicator::backup_silent() const {
    if (phase_ != Phase::syncing) return transport_.peer_silent();
    return transport_.peer_silent_for(config_.timing.silence_timeout_ns * kCopySilenceFactor);
}

Status PrimaryReplicator::begin_sync() {
    restarts_seen_ = transport_.stats().peer_restarts;
    // The new backup holds nothing: the engine's first epoch is every page, encoded against
    // zero, and it rewrites the reference as it goes (no clearing of guest-sized memory here,
    // which would silence the link for as long).
    queue_.clear();
    sync_round_ = 0;
    completed_any_ = false;
    has_ack_ = false;
    ack_latency_ = 0;
    std::uint64_t now = clock_.now();
    if (auto s = engine_.start(); !s) return s;
    first_epoch_ = engine_.stats().epoch;
    last_capture_at_ = now;
    next_epoch_at_ = now + options_.epoch_ticks;
    next_progress_at_ = now + options_.progress_ticks;
    progress_since_ = now;
    busy_at_progress_ = busy_ticks_;
    credit_ = 0;
    phase_ = Phase::syncing;
    ++stats_.backups_joined;
    const link::HandshakeParams& peer = transport_.peer_params();
    println(out_, "pair: backup joined (session {}); copying the guest ({}) while it runs, from epoch {}",
            hex(transport_.peer_session(), 16), Bytes{peer.guest_memory}, first_epoch_);
    return success();
}

Status PrimaryReplicator::tick(std::uint64_t exit_began) {
    std::uint64_t started = clock_.now();
    if (phase_ == Phase::syncing) {
        // The copy to a joining backup earns its share of the time since the last tick; the
        // guest keeps the rest (a join takes long: without a cap the guest starved).
        credit_ += static_cast<std::int64_t>((started - last_tick_at_) * options_.sync_share_percent / 100);
        std::int64_t cap = static_cast<std::int64_t>(options_.epoch_ticks);
        if (credit_ > cap) credit_ = cap;
    }
    last_tick_at_ = started;
    std::uint64_t began = exit_began != 0 ? exit_began : started;
    std::uint64_t encode_until = options_.exit_budget_ticks != 0 ? began + options_.exit_budget_ticks : ~std::uint64_t{0};
    Status s = tick_work(started, encode_until);
    std::uint64_t spent = clock_.now() - started;
    busy_ticks_ += spent;
    if (phase_ == Phase::syncing) credit_ -= static_cast<std::int64_t>(spent);
    return s;
}

Status PrimaryReplicator::tick_work(std::uint64_t started, std::uint64_t encode_until) {
    transport_.poll();
    output_.flush_released();
    std::uint64_t now = clock_.now();
    if (phase_ == Phase::waiting) {
        observations_.poll(transport_, out_, "pair");
        if (transport_.established()) {
            if (!joins_open_) return success();
            if (auto s = begin_sync(); !s) fail("starting the copy", s.error());
        } else if (transport_.refusal() != nullptr) {
            if (!refusal_reported_) {
                refusal_reported_ = true;
                refused_at_ = now;
                print(out_, "pair: a backup was refused: ");
                println(out_, "{}", transport_.refusal_error());
            } else if (now - refused_at_ >= options_.epoch_ticks * 40) {
                restart_link();  // listen again (for a correctly configured backup)
            }
        }
        return success();
    }
    if (!transport_.established()) {
        lose_backup("the link is down");
        return success();
    }
    if (backup_silent()) {
        lose_backup(phase_ == Phase::syncing ? "silent on the link during its copy" : "silent on the link");
        return success();
    }
    if (transport_.stats().peer_restarts != restarts_seen_) {
        // A new session of the backup proved the key and replaced the old one on the link: the
        // backup restarted. The link is up with the new session: it gets a new full copy.
        lose_backup("a new backup session proved the link key: the backup restarted", false);
        return success();
    }

    if (phase_ == Phase::syncing && credit_ <= 0) return success();  // the guest's turn
    pump();
    if (engine_.transferring()) {
        // Protected: a slice of each tick. Joining: what the copy has earned (its share).
        std::uint64_t until = now + options_.slice_ticks;
        if (phase_ == Phase::syncing) until = started + static_cast<std::uint64_t>(credit_);
        if (until > encode_until) until = encode_until;
        while (engine_.transferring() && queue_.room() >= kStepRoom && clock_.now() < until) {
            if (auto s = engine_.transfer(1); !s) {
                fail("encoding", s.error());
                return success();
            }
        }
        after_transfer();
        pump();
    }
    if (phase_ == Phase::syncing && options_.progress_ticks != 0 && now >= next_progress_at_ &&
        engine_.stats().epoch == first_epoch_ && engine_.transferring()) {
        next_progress_at_ = now + options_.progress_ticks;
        // The share of the time the replication took from the guest since the last line (the
        // guest runs the rest of it): a join must not starve the guest.
        std::uint64_t span = started - progress_since_;
        std::uint64_t busy = busy_ticks_ - busy_at_progress_;
        progress_since_ = started;
        busy_at_progress_ = busy_ticks_;
        std::uint64_t encoded = engine_.cursor(), total = engine_.stats().dirty_pages;
        copy_rate_.sample(started, encoded, options_.ticks_per_second);
        print(out_, "pair: full copy to the backup: page {} of {} guest pages encoded", encoded, total);
        copy_rate_.print(out_, total > encoded ? total - encoded : 0, "pages");
        println(out_, ", {} queued for the link; replication used {} % of the time", Bytes{queue_.size()},
                span == 0 ? 0 : busy * 100 / span);
    }
    bool due = driver_ != nullptr && phase_ == Phase::protecting ? driver_->boundary_due() : now >= next_epoch_at_;
    if (!engine_.transferring() && due) {
        if (auto s = boundary(); !s) fail("epoch boundary", s.error());
    }
    return success();
}

Status PrimaryReplicator::boundary() {
    std::uint64_t now = clock_.now();
    // The pre-copy has converged when the last epoch's transfer fitted in about its length.
    bool converged = phase_ == Phase::syncing && engine_.stats().epoch != first_epoch_ &&
                     now - last_capture_at_ <= 2 * options_.epoch_ticks;
    bool give_up_converging = phase_ == Phase::syncing && sync_round_ + 1 >= options_.max_sync_rounds;
    // (A lockstep driver's epochs are long by design: no backpressure to speak of.)
    if (phase_ == Phase::protecting && driver_ == nullptr) note_backpressure(now - last_capture_at_);
    if (auto s = engine_.epoch_boundary(); !s) return s;
    last_capture_at_ = now;
    next_epoch_at_ = now + options_.epoch_ticks;
    std::uint64_t epoch = engine_.stats().epoch;
    captures_[epoch % kCaptures] = {epoch, now};
    const EpochStats& st = engine_.stats();
    stats_.pause_ticks_total += st.pause_ticks;
    if (st.pause_ticks > stats_.pause_ticks_max) stats_.pause_ticks_max = st.pause_ticks;
    if (phase_ == Phase::syncing) {
        ++sync_round_;
        if (converged || give_up_converging) {
            phase_ = Phase::protecting;
            protected_from_ = epoch;
            notice_pending_ = true;
            output_.set_holding(true);
            println(out_, "pair: pre-copy {} after {} rounds: protecting from epoch {}; guest output now {}",
                    converged ? "converged" : "did not converge", sync_round_, epoch,
                    driver_ != nullptr ? "leaves once the backup's guest sent the same (lockstep)"
                                       : "waits for the backup's acknowledgement");
        }
    }
    // Frames the guest sends from now on were produced after this capture: they belong to the
    // next epoch and leave once the backup holds it.
    output_.set_epoch(engine_.epochs_started());
    if (driver_ != nullptr) driver_->captured(epoch, phase_ == Phase::protecting);
    pump();
    return success();
}

// Backpressure (issue 19): when the guest dirties memory faster than the link carries it, an
// epoch's transfer outlasts the epoch, the next boundary waits for it, and epochs stretch: the
// guest keeps running, its output waits as long, the link is polled at every tick throughout.
// Said on the console (at most every progress interval) with the figures.
void PrimaryReplicator::note_backpressure(std::uint64_t epoch_ticks) {
    if (epoch_ticks <= 2 * options_.epoch_ticks) return;
    ++stats_.stretched_epochs;
    std::uint64_t now = clock_.now();
    if (options_.progress_ticks == 0 || now < next_backpressure_note_) return;
    next_backpressure_note_ = now + 5 * options_.progress_ticks;
    std::uint64_t per_ms = options_.epoch_ticks / (options_.epoch_ms == 0 ? 1 : options_.epoch_ms);
    println(out_, "pair: the guest dirties memory faster than the link carries it: the last epoch took {} ms (epochs "
                  "of {} ms; {} stretched so far, {} dirty pages in the last); its output waits as long",
            per_ms == 0 ? 0 : epoch_ticks / per_ms, options_.epoch_ms, stats_.stretched_epochs, engine_.stats().dirty_pages);
}

void PrimaryReplicator::after_transfer() {
    if (!engine_.has_completed()) return;
    std::uint64_t epoch = engine_.last_completed_epoch();
    if (completed_any_ && epoch == completed_seen_) return;
    completed_any_ = true;
    completed_seen_ = epoch;
    const EpochStats& e = engine_.completed_stats();
    ++stats_.epochs_completed;
    stats_.dirty_pages_total += e.dirty_pages;
    stats_.stream_bytes_total += e.bytes;
    if (options_.epoch_report) {
        println(out_, "checkpoint-epoch: {} dirty={} pause_ticks={} backlog_ticks={} bytes={} full={} delta={} zero={} cow={}",
                e.epoch, e.dirty_pages, e.pause_ticks, e.backlog_ticks, e.bytes, e.pages_full, e.pages_delta, e.pages_zero,
                e.cow_copies);
    }
    if (epoch == first_epoch_) println(out_, "pair: the full copy is encoded ({} stream bytes)", e.bytes);
}

void PrimaryReplicator::pump() {
    if (notice_pending_ && transport_.can_send()) {
        std::uint8_t notice[kPairNoticeSize];
        encode_pair_notice({PairNoticeKind::protected_from, protected_from_}, notice);
        if (transport_.send(link::FrameType::data, protected_from_, notice)) notice_pending_ = false;
    }
    std::size_t limit = transport_.max_message_size();
    if (limit > sizeof(message_)) limit = sizeof(message_);
    while (queue_.size() != 0 && transport_.can_send()) {
        std::size_t n = queue_.peek({message_, limit});
        if (!transport_.send(link::FrameType::pages, engine_.stats().epoch, {message_, n})) return;
        queue_.drop(n);
    }
}

void PrimaryReplicator::on_message(const link::Message& m) {
    if (m.type == link::FrameType::forward && driver_ != nullptr) {
        if (phase_ == Phase::protecting) driver_->on_forward(m.payload);
        return;
    }
    if (m.type != link::FrameType::epoch_ack || !m.payload.empty()) {
        ++stats_.unexpected_messages;
        return;
    }
    if (phase_ == Phase::waiting) return;
    ++stats_.acks;
    if (has_ack_ && m.epoch <= acked_) return;
    has_ack_ = true;
    acked_ = m.epoch;
    note_ack_latency(m.epoch);
    if (phase_ != Phase::protecting) return;
    output_.release_through(acked_);
    if (driver_ != nullptr) driver_->acknowledged(acked_);
    if (!announced_protected_ && acked_ >= protected_from_) {
        announced_protected_ = true;
        println(out_, "pair: PROTECTED: the backup holds epoch {}; it takes over if this machine fails", acked_);
    }
}

// From the epoch's capture to its acknowledgement. An epoch captured so long ago that its time was
// overwritten took longer than all those remembered: the oldest is a lower bound.
void PrimaryReplicator::note_ack_latency(std::uint64_t epoch) {
    const Capture& c = captures_[epoch % kCaptures];
    if (c.epoch == epoch && c.at != 0) {
        ack_latency_ = clock_.now() - c.at;
        return;
    }
    std::uint64_t oldest = clock_.now();
    for (const Capture& k : captures_) {
        if (k.at != 0 && k.at < oldest) oldest = k.at;
    }
    ack_latency_ = clock_.now() - oldest;
}

bool PrimaryReplicator::send_handover() {
    if (!transport_.can_send()) return false;
    std::uint8_t notice[kPairNoticeSize];
    encode_pair_notice({PairNoticeKind::hand_over, acked_}, notice);
    return static_cast<bool>(transport_.send(link::FrameType::data, acked_, notice));
}

void PrimaryReplicator::status(Writer& out) const {
    println(out, "pair: primary, {}", primary_phase_name(phase_));
    if (phase_ == Phase::waiting) return;
    println(out, "pair: epoch {} captured, backup acknowledged {}{}, protected from {}; {} frames held; {} backups "
                 "joined, {} lost",
            engine_.epochs_started() == 0 ? 0 : engine_.epochs_started() - 1, acked_, has_ack_ ? "" : " (none yet)",
            protected_from_, output_.held(), stats_.backups_joined, stats_.backups_lost);
}

}  // namespace tandem::engine
