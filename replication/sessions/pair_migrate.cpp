// Live migration (issue 15): the guest moves from this primary to a machine booted to receive it
// (mode=migrate: on the link it joins as a backup does), and this machine then runs nothing.
//
// The pre-copy is the join's (engine/primary_replicator.hpp, "syncing"): the whole guest is
// copied while it runs, then rounds of the pages it dirtied meanwhile until one round keeps up
// with the epoch; its output passes straight through all that time. Once the target holds a
// protected epoch, the guest stops and the switchover's hand-over runs (pair_handover.cpp): epochs
// go on until one captured after the stop — the rest of the guest, with its vCPU and devices — is
// acknowledged, then the authenticated notice; the target resumes exactly where the guest stopped
// and announces it (gratuitous ARP). Until the notice is sent nothing is lost by giving up: the
// guest resumes here. The target never runs a guest it does not hold whole: before the notice it
// is a backup that has not taken over; it takes over by itself only as a protected backup does
// when its primary falls silent (a failure, with nothing the clients saw lost).
//
// A guest that dirties memory faster than the link carries it still moves: after the join's
// rounds give up converging (max_sync_rounds) the pair protects anyway, and the guest stops for
// the last copy once that fits migrate_downtime_ms, throttled as needed (pair_converge.cpp).
// migrate_max_s bounds the time before the stop.
#include "replication/sessions/pair_session.hpp"

namespace tandem::sessions {

void PairSession::command_migrate(void* context, std::string_view arguments, Writer& out) {
    static_cast<PairSession*>(context)->migrate(arguments, out);
}

void PairSession::migrate(std::string_view arguments, Writer& out) {
    if (arguments == "cancel") return cancel_migration(out);
    if (!arguments.empty()) {
        println(out, "migrate: the only option is cancel (migrate alone moves the guest to the machine that joins as "
                     "its target)");
        return;
    }
    if (!primary_) {
        println(out, "migrate: this machine does not run the guest: run migrate on the machine that does");
        return;
    }
    if (lockstep()) {
        println(out, "migrate: not available in lockstep yet (a lockstep pair's backup holds the guest already: "
                     "failover moves it)");
        return;
    }
    if (phase_ != Phase::running || handover_asked_ || switchover_asked_) {
        println(out, "migrate: the guest does not run here (nothing to move)");
        return;
    }
    if (migrate_armed_) {
        println(out, "migrate: already under way ('migrate cancel' calls it off)");
        return;
    }
    migrate_armed_ = true;
    throttle_used_ = 0;
    expected_stop_ms_ = 0;
    migrate_since_ = machine_.now();
    migrate_progress_at_ = 0;
    migrate_bytes_at_ = stream_bytes();
    migrate_saw_target_ = primary_->phase() != engine::PrimaryReplicator::Phase::waiting;
    switch (primary_->phase()) {
    case engine::PrimaryReplicator::Phase::waiting:
        if (primary_->joiner_waiting()) {
            println(out, "migrate: the machine waiting on the link copies the guest now; the guest moves to it once the "
                         "copy has caught up (at most {} s from now)",
                    machine_.config().migrate_max_s);
            break;
        }
        println(out, "migrate: waiting for the target: boot the machine that receives the guest with mode=migrate on "
                     "this link; the guest moves once the target's copy has caught up (at most {} s from now)",
                machine_.config().migrate_max_s);
        break;
    case engine::PrimaryReplicator::Phase::syncing:
        println(out, "migrate: the machine that joined is copying the guest; the guest moves to it once the copy has "
                     "caught up");
        break;
    case engine::PrimaryReplicator::Phase::protecting:
        println(out, "migrate: the backup holds the guest: the guest moves to it now, and this machine then runs nothing");
        break;
    }
    poll_migration();
}

void PairSession::cancel_migration(Writer& out) {
    if (!migrate_armed_) {
        println(out, "migrate: no migration is under way");
    } else if (switchover_asked_) {
        println(out, "migrate: too late to call off: the guest has stopped for its last copy (it resumes here if that "
                     "fails)");
    } else {
        migrate_armed_ = false;
        end_throttle();
        println(out, "migrate: called off on the console; the guest runs on here{}",
                migrate_saw_target_ ? " (the target stays joined, as a backup)" : "");
    }
}

// At every tick while armed: the target lost, the time bound, or the moment to stop the guest.
void PairSession::poll_migration() {
    if (!migrate_armed_ || switchover_asked_) return;
    std::uint64_t tick = machine_.tsc_khz();
    if (primary_->phase() != engine::PrimaryReplicator::Phase::waiting) {
        migrate_saw_target_ = true;
    } else if (migrate_saw_target_) {
        return give_up_migration("the target was lost before it held the guest");
    }
    if (machine_.now() - migrate_since_ > tick * 1000 * machine_.config().migrate_max_s) {
        return give_up_migration("the target's copy did not catch up within migrate_max_s");
    }
    print_migration_progress();
    if (!primary_->can_hand_over() || !last_copy_fits()) return;
    println(out_, "migrate: the target holds the guest ({} pre-copy rounds, {} ms since 'migrate'); stopping the guest "
                  "for the last copy", primary_->sync_rounds(), (machine_.now() - migrate_since_) / tick);
    switchover_asked_ = true;
    migrating_ = true;
    machine_.stop_guest("migrate");
}

// At once and then once a second after the target's full copy (which has progress lines of its
// own) until the stop:
// how long it has been, the epoch, what the guest dirties, the link's pace, and what the last copy
// is expected to cost against the budget (auto-converge's estimate, pair_converge.cpp).
void PairSession::print_migration_progress() {
    std::uint64_t tick = machine_.tsc_khz(), now = machine_.now();
    bool full_copy = primary_->phase() == engine::PrimaryReplicator::Phase::syncing && primary_->sync_rounds() == 0;
    bool shown_lately = migrate_progress_at_ != 0 && now - migrate_progress_at_ < tick * 1000;
    if (shown_lately || full_copy ||
        primary_->phase() == engine::PrimaryReplicator::Phase::waiting) {
        return;
    }
    migrate_progress_at_ = now;
    const engine::EpochStats* last = primary_->last_completed();
    print(out_, "migrate: {} s since 'migrate': epoch {} ({}, {} pre-copy rounds), {} dirty pages in the last, {}/s on the "
                "link; ",
          (now - migrate_since_) / tick / 1000, primary_->last_captured_epoch(),
          primary_->phase() == engine::PrimaryReplicator::Phase::syncing ? "pre-copy" : "protected",
          primary_->sync_rounds(), last != nullptr ? last->dirty_pages : 0, Bytes{throughput_});
    if (expected_stop_ms_ == 0) {
        print(out_, "the last copy not estimated yet");
    } else {
        print(out_, "the last copy would stop the guest about {} ms (migrate_downtime_ms={})", expected_stop_ms_,
              machine_.config().migrate_downtime_ms);
    }
    println(out_, ", the guest at {} % of its CPU", 100 - throttle_.percent());
}

void PairSession::give_up_migration(const char* why) {
    migrate_armed_ = false;
    end_throttle();
    println(out_, "migrate: gave up: {}; the guest runs on here (migrate again to retry)", why);
}

// The target has the notice: the guest runs there; this machine runs nothing and stays silent.
void PairSession::finish_migration(const char* how) {
    std::uint64_t tick = machine_.tsc_khz();
    std::uint64_t sent = stream_bytes() - migrate_bytes_at_;
    std::uint64_t guest = machine_.config().guest_mem;
    print(out_, "migrate: done: {}; {} ms in all, the guest stopped here {} ms before the notice was acknowledged, "
                "{} sent for {} of guest memory (zero pages and unchanged bytes are sent compactly), {} pre-copy "
                "rounds, ",
          how, (machine_.now() - migrate_since_) / tick, (machine_.now() - switch_since_) / tick, Bytes{sent},
          Bytes{guest}, primary_->sync_rounds());
    if (throttle_used_ == 0) {
        println(out_, "no throttling");
    } else {
        println(out_, "the guest throttled to {} % of its CPU at the most (auto-converge)", 100 - throttle_used_);
    }
    phase_ = Phase::handed_over;
    migrated_ = true;
    migrate_armed_ = false;
    migrating_ = false;
    switchover_asked_ = false;
    end_throttle();
    transport_->close();
    println(out_, "migrate: this machine now runs nothing and stays silent ('reprotect' makes it the target's backup)");
}

}  // namespace tandem::sessions
