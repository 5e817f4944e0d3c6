// What the pair's `status` and `stats` say (pair_commands.cpp), for people and as one line of
// JSON each (docs/console-schema.json: "status", "stats"; a field's meaning is kept within a
// schema, so monitoring built on it keeps working).
#include "hypervisor/console/json_writer.hpp"
#include "replication/sessions/pair_session.hpp"

namespace tandem::sessions {

void PairSession::status(Writer& out) const {
    if (phase_ == Phase::handing_over || phase_ == Phase::handed_over) {
        bool migration = migrating_ || migrated_;
        println(out, "pair: this machine handed the guest to its {} ({} on this console){}; it runs nothing now",
                migration ? "target" : "backup", migration ? "migrate" : "failover",
                phase_ == Phase::handing_over ? ", the notice on its way" : "");
        return;
    }
    if (phase_ == Phase::switching) {
        println(out, "pair: {}: the guest is stopped here, its last epoch on its way to the {}", switch_name(), peer_name());
        return;
    }
    if (primary_) {
        report_guest_status(out, machine_, " here", took_over_ ? " (this machine took over as primary)" : "");
        if (migrate_armed_) {
            println(out, "pair: migrate asked {} ms ago: the guest moves once the target holds all of it",
                    (machine_.now() - migrate_since_) / machine_.tsc_khz());
        }
        primary_->status(out);
    } else if (backup_) {
        backup_->status(out);
    }
    lockstep_status(out);
}

const char* PairSession::protection_name() const {
    if (phase_ == Phase::handing_over || phase_ == Phase::handed_over) return "unprotected";
    if (primary_) {
        if (primary_->can_hand_over()) return "protected";
        return primary_->phase() == engine::PrimaryReplicator::Phase::waiting ? "unprotected" : "joining";
    }
    if (!backup_) return "unprotected";
    if (backup_->is_protected()) return "protected";
    return backup_->state() == engine::BackupReplicator::State::connecting ? "unprotected" : "joining";
}

const char* PairSession::phase_name() const {
    switch (phase_) {
    case Phase::handing_over:
    case Phase::handed_over: return "handed_over";
    case Phase::switching: return "switching";
    case Phase::ended: return "ended";
    default: break;
    }
    if (primary_) {
        switch (primary_->phase()) {
        case engine::PrimaryReplicator::Phase::waiting: return "waiting";
        case engine::PrimaryReplicator::Phase::syncing: return "syncing";
        case engine::PrimaryReplicator::Phase::protecting: return "protecting";
        }
    }
    if (backup_) {
        switch (backup_->state()) {
        case engine::BackupReplicator::State::connecting: return "connecting";
        case engine::BackupReplicator::State::following: return "following";
        case engine::BackupReplicator::State::probing: return "probing";
        case engine::BackupReplicator::State::takeover: return "takeover";
        }
    }
    return "connecting";
}

namespace {
const char* guest_name(bool primary, bool ended, bool handed) {
    if (handed) return "stopped";
    if (ended) return "ended";
    return primary ? "running" : "not_here";
}
}  // namespace

void PairSession::status_json(Writer& out) const {
    const bool handed = phase_ == Phase::handing_over || phase_ == Phase::handed_over;
    const engine::PrimaryReplicator* p = primary_ ? &*primary_ : nullptr;
    const engine::BackupReplicator* b = p == nullptr && backup_ ? &*backup_ : nullptr;
    JsonWriter json(out);
    json.begin_object();
    json.field("schema", kConsoleSchema);
    json.field("kind", "status");
    json.field("role", p != nullptr ? "primary" : "backup");
    json.field("mode", target() ? "migrate" : standalone_source() ? "standalone" : "checkpoint");
    json.field("protection", protection_name());
    json.field("phase", phase_name());
    json.field("guest", guest_name(p != nullptr, phase_ == Phase::ended, handed || phase_ == Phase::switching));
    json.field("uptime_ms", uptime_ms());
    json.object_field("epoch");
    json.maybe_field("length_ms", p != nullptr, p != nullptr ? p->epoch_ms() : 0);
    bool captured = p != nullptr && p->epochs_captured() != 0;
    json.maybe_field("current", captured, captured ? p->epochs_captured() - 1 : 0);
    json.maybe_field("acknowledged", p != nullptr && p->has_ack(), p != nullptr ? p->acked_epoch() : 0);
    bool committed = b != nullptr && image_->has_committed();
    json.maybe_field("committed", committed, committed ? image_->committed_epoch() : 0);
    bool protecting = p != nullptr && p->phase() == engine::PrimaryReplicator::Phase::protecting;
    json.maybe_field("protected_from", protecting, protecting ? p->protected_from() : 0);
    json.end_object();
    json.field("output_held_frames", std::uint64_t{output_ ? output_->held() : 0});
    if (took_over_) {
        json.object_field("last_failover");
        json.field("uptime_ms", took_over_at_ / machine_.tsc_khz());
        json.field("epoch", takeover_epoch_);
        json.field("cause", takeover_handed_ ? "handover" : "primary_silent");
        json.end_object();
    } else {
        json.null_field("last_failover");
    }
    json.object_field("backups");
    json.field("joined", p != nullptr ? p->stats().backups_joined : 0);
    json.field("lost", p != nullptr ? p->stats().backups_lost : 0);
    json.end_object();
    migration_json(json);
    json.end_object();
    json.end_line();
}

// Where a `migrate` asked on this machine stands; null when none is (asked, under way or done).
void PairSession::migration_json(JsonWriter& json) const {
    if (!migrate_armed_ && !migrating_ && !migrated_) {
        json.null_field("migration");
        return;
    }
    const char* state = migrated_ ? "done"
                        : migrating_ ? "final_copy"
                        : primary_ && primary_->phase() == engine::PrimaryReplicator::Phase::waiting
                            ? "waiting_for_target"
                            : "pre_copy";
    json.object_field("migration");
    json.field("state", state);
    json.field("since_ms", (machine_.now() - migrate_since_) / machine_.tsc_khz());
    json.field("pre_copy_rounds", std::uint64_t{primary_ ? primary_->sync_rounds() : 0});
    json.maybe_field("expected_stop_ms", expected_stop_ms_ != 0, expected_stop_ms_);
    json.field("cpu_percent", std::uint64_t{100 - throttle_.percent()});
    json.field("throttled_to_percent", std::uint64_t{100 - throttle_used_});
    json.end_object();
}

std::uint64_t PairSession::stream_bytes() const {
    if (primary_) return primary_->stats().stream_bytes_total;
    return backup_ ? backup_->stats().stream_bytes : 0;
}

// Called on the primary's ticks and the backup's polls: at most once a second it takes the bytes
// of the second just past.
void PairSession::sample_throughput() {
    std::uint64_t now = machine_.now(), second = machine_.tsc_khz() * 1000;
    if (rate_at_ != 0 && now - rate_at_ < second) return;
    std::uint64_t bytes = stream_bytes();
    if (rate_at_ != 0) throughput_ = (bytes - rate_bytes_) * second / (now - rate_at_);
    rate_at_ = now;
    rate_bytes_ = bytes;
}

void PairSession::stats(Writer& out) const {
    if (primary_) {
        const engine::PrimaryStats& s = primary_->stats();
        std::uint64_t captured = primary_->epochs_captured();
        println(out, "stats: {} epochs completed, {} stretched by the link; pause per epoch {} us on average, {} us at "
                     "most; {} dirty pages per epoch on average",
                s.epochs_completed, s.stretched_epochs, captured == 0 ? 0 : ticks_to_us(s.pause_ticks_total) / captured,
                ticks_to_us(s.pause_ticks_max), s.epochs_completed == 0 ? 0 : s.dirty_pages_total / s.epochs_completed);
        if (const engine::EpochStats* e = primary_->last_completed()) {
            println(out, "stats: last epoch {}: {} dirty pages, pause {} us, {} stream bytes", e->epoch, e->dirty_pages,
                    ticks_to_us(e->pause_ticks), e->bytes);
        }
    } else if (backup_) {
        println(out, "stats: {} epochs committed, {} acknowledgements sent", backup_->stats().epochs_committed,
                backup_->stats().acks_sent);
    }
    const link::TransportStats& t = transport_->stats();
    println(out, "stats: stream {} ({}/s over the last second); link frames sent {} received {}, {} retransmitted, {} "
                 "timeouts; {} guest frames held for the backup's acknowledgement",
            Bytes{stream_bytes()}, Bytes{throughput_}, t.frames_sent, t.frames_received, t.retransmissions, t.timeouts,
            output_ ? output_->held() : 0);
}

void PairSession::stats_json(Writer& out) const {
    const engine::PrimaryReplicator* p = primary_ ? &*primary_ : nullptr;
    JsonWriter json(out);
    json.begin_object();
    json.field("schema", kConsoleSchema);
    json.field("kind", "stats");
    json.field("role", p != nullptr ? "primary" : "backup");
    json.field("uptime_ms", uptime_ms());
    json.object_field("epochs");
    if (p != nullptr) {
        const engine::PrimaryStats& s = p->stats();
        std::uint64_t captured = p->epochs_captured();
        json.field("completed", s.epochs_completed);
        if (const engine::EpochStats* e = p->last_completed()) {
            json.object_field("last");
            json.field("epoch", e->epoch);
            json.field("dirty_pages", e->dirty_pages);
            json.field("pause_us", ticks_to_us(e->pause_ticks));
            json.field("bytes", e->bytes);
            json.end_object();
        } else {
            json.null_field("last");
        }
        json.maybe_field("dirty_pages_mean", s.epochs_completed != 0,
                         s.epochs_completed != 0 ? s.dirty_pages_total / s.epochs_completed : 0);
        json.maybe_field("pause_us_mean", captured != 0, captured != 0 ? ticks_to_us(s.pause_ticks_total) / captured : 0);
        json.maybe_field("pause_us_max", captured != 0, ticks_to_us(s.pause_ticks_max));
        json.field("stretched", s.stretched_epochs);
    } else {
        json.field("completed", backup_ ? backup_->stats().epochs_committed : 0);
        json.null_field("last");
        json.null_field("dirty_pages_mean");
        json.null_field("pause_us_mean");
        json.null_field("pause_us_max");
        json.field("stretched", std::uint64_t{0});
    }
    json.end_object();
    const link::TransportStats& t = transport_->stats();
    json.object_field("link");
    json.field("state", link::transport_state_name(transport_->state()));
    json.field("stream_bytes", stream_bytes());
    json.field("throughput_bytes_per_s", throughput_);
    json.field("frames_sent", t.frames_sent);
    json.field("frames_received", t.frames_received);
    json.field("retransmissions", t.retransmissions);
    json.field("timeouts", t.timeouts);
    json.field("rtt_us", transport_->srtt_ns() / 1000);
    json.field("rejected", t.rejected_bad_tag + t.rejected_replay + t.rejected_malformed + t.rejected_session +
                               t.rejected_source);
    json.end_object();
    json.object_field("output");
    json.field("held_frames", std::uint64_t{output_ ? output_->held() : 0});
    json.end_object();
    json.end_object();
    json.end_line();
}

}  // namespace tandem::sessions
