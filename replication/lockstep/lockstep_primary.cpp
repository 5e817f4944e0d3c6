#include "replication/lockstep/lockstep_primary.hpp"

namespace tandem::lockstep {

bool LockstepPrimary::Release::transmit(std::span<const std::uint8_t> frame) {
    // Nothing held: straight to the client. Else behind the held frames, or a frame released by
    // a match would overtake one of the same flow waiting for its checkpoint's acknowledgement.
    if (commit_epoch == 0 && commit_.held() == 0) return client_.transmit(frame);
    commit_.set_epoch(commit_epoch);
    return commit_.transmit(frame);
}

LockstepPrimary::LockstepPrimary(std::span<std::uint8_t> comparator_storage, std::span<std::uint8_t> queue_storage,
                                 virtio::NetBackend& client,
                                 engine::OutputCommitBuffer& commit, ForwardLink& link, link::Clock& clock,
                                 const SyncPolicyConfig& policy, std::uint64_t wait_ns, Writer& out)
    : release_(client, commit), commit_(commit), link_(link), clock_(clock), out_(out),
      comparator_(comparator_storage, release_, wait_ns), policy_(policy), queue_storage_(queue_storage) {}

bool LockstepPrimary::transmit(std::span<const std::uint8_t> frame) {
    if (!comparing_) {
        commit_.set_epoch(next_epoch_);
        if (!commit_.transmit(frame)) return false;
        ++(joined_ ? stats_.degraded_output : stats_.unprotected_output);
        return true;
    }
    return comparator_.primary_output(frame, clock_.now_ns());
}

void LockstepPrimary::forward_input(std::span<const std::uint8_t> frame, std::uint64_t guest_tsc) {
    if (!joined_) return;  // no backup guest runs: nothing to feed
    if (send(LockstepMessageKind::client_input, frame, guest_tsc)) {
        ++stats_.inputs_forwarded;
        ++input_sequence_;
        return;
    }
    ++stats_.inputs_unforwarded;
    differ_ = true;
}

void LockstepPrimary::on_message(std::span<const std::uint8_t> payload) {
    auto message = decode_lockstep_message(payload);
    if (!message.ok()) {
        ++stats_.backup_undecodable;
        return;
    }
    if (message->kind != LockstepMessageKind::guest_output) {
        ++stats_.backup_unexpected;
        return;
    }
    ++stats_.backup_messages;
    if (backup_order_.accept(message->generation, message->sequence) == LockstepSequence::Verdict::out_of_order) {
        // The link delivers in order: a gap means the backup's side lost a frame. The guests
        // can no longer be compared this generation.
        ++stats_.backup_out_of_order;
        differ_ = true;
        return;
    }
    if (!comparing_) return;  // compared no more until lockstep is tried again
    comparator_.backup_output(message->frame, message->generation, clock_.now_ns());
}

std::optional<SyncReason> LockstepPrimary::poll() {
    if (!joined_) return std::nullopt;  // the replicator's own epochs until a backup joined
    flush_queue();
    std::uint64_t now_ns = clock_.now_ns();
    say_change(policy_.poll(now_ns));
    // The hold is over: the next generation is compared; start it now.
    if (!comparing_ && !policy_.degraded()) return SyncReason::degraded_epoch;
    Divergence divergence = comparing_ ? comparator_.poll(now_ns) : Divergence::none;
    return policy_.due(divergence, differ_, now_ns);
}

void LockstepPrimary::checkpoint_captured(std::uint64_t epoch, SyncReason reason) {
    next_epoch_ = epoch + 1;
    release_.commit_epoch = epoch;  // what waited leaves under this epoch's commit
    bool started = comparator_.start_generation(epoch);
    release_.commit_epoch = 0;
    if (!started) {
        println(out_, "lockstep: checkpoint {} is not newer than generation {}: ignored", epoch, comparator_.generation());
        return;
    }
    joined_ = true;
    differ_ = false;
    input_sequence_ = 0;
    say_change(policy_.checkpoint_taken(reason, clock_.now_ns()));
    comparing_ = !policy_.degraded();
    // The backup learns where its guest starts, in order with the input around it. With the
    // queue full (the guests differ anyway) the next start says it.
    if (!send(LockstepMessageKind::generation_start, {}, 0)) differ_ = true;
}

void LockstepPrimary::backup_synced(std::uint64_t epoch) {
    if (epoch == comparator_.generation() && !comparator_.synced()) comparator_.backup_synced(clock_.now_ns());
}

void LockstepPrimary::backup_lost() {
    joined_ = comparing_ = false;
    differ_ = false;
    queue_count_ = 0;  // for a backup that is gone
    comparator_.release_waiting();  // the output-commit buffer passes them on, holding nothing now
    policy_.restart();
}

bool LockstepPrimary::send(LockstepMessageKind kind, std::span<const std::uint8_t> frame, std::uint64_t guest_tsc) {
    flush_queue();
    if (queue_count_ == kQueuedMessages || queue_storage_.size() < kQueueBytes) return false;
    std::size_t slot = (queue_head_ + queue_count_) % kQueuedMessages;
    LockstepMessage message{kind, comparator_.generation(), kind == LockstepMessageKind::client_input ? input_sequence_ : 0,
                            guest_tsc, frame};
    auto size = encode_lockstep_message(message, queue_storage_.subspan(slot * kLockstepMaxMessage, kLockstepMaxMessage));
    if (!size.ok()) return false;
    queue_length_[slot] = static_cast<std::uint16_t>(*size);
    ++queue_count_;
    flush_queue();
    if (queue_count_ != 0) ++stats_.queue_waits;
    return true;
}

void LockstepPrimary::flush_queue() {
    while (queue_count_ != 0) {
        std::span<const std::uint8_t> message = queue_storage_.subspan(queue_head_ * kLockstepMaxMessage, queue_length_[queue_head_]);
        if (!link_.send_forward(message)) return;
        queue_head_ = (queue_head_ + 1) % kQueuedMessages;
        --queue_count_;
    }
}

void LockstepPrimary::say_change(SyncPolicy::Change change) {
    if (change == SyncPolicy::Change::degraded) {
        println(out_,
                "lockstep: {} checkpoints for divergence within a second: releasing output by checkpoint, as checkpoint "
                "mode does, for {} ms, then comparing again",
                policy_.degrade_at(), policy_.hold_ns() / 1'000'000);
    } else if (change == SyncPolicy::Change::recovered) {
        println(out_, "lockstep: comparing output again (releasing by match from the next checkpoint)");
    }
}

void LockstepPrimary::report(Writer& out) const {
    const ComparatorStats& c = comparator_.stats();
    println(out, "lockstep: generation {}{}; output released by match {}, early {}, uncompared {}, by checkpoint {}; "
                 "comparison lag p50 <= {} us, p95 <= {} us, max {} us",
            comparator_.generation(), comparing_ ? "" : " (degraded: released by checkpoint)", c.released_matched,
            c.released_early, c.released_uncompared, c.released_committed + stats_.degraded_output,
            c.lag_percentile_us(50), c.lag_percentile_us(95), c.lag_max_ns / 1000);
    print(out, "lockstep: checkpoints by reason:");
    for (std::size_t i = 0; i < kSyncReasons; ++i) {
        print(out, " {} {}", sync_reason_name(static_cast<SyncReason>(i)), policy_.count(static_cast<SyncReason>(i)));
    }
    println(out, "; rate limited {}, degraded {} times", policy_.rate_limited(), policy_.degradations());
    println(out, "lockstep: client input forwarded {} ({} waited for the link), not forwarded {}; backup frames {} "
                 "(stale {}, out of order {}); {} frames passed on before the join",
            stats_.inputs_forwarded, stats_.queue_waits, stats_.inputs_unforwarded, stats_.backup_messages, c.backup_stale,
            stats_.backup_out_of_order, stats_.unprotected_output);
}

std::uint64_t LockstepPrimary::frames_released() const {
    const ComparatorStats& c = comparator_.stats();
    return c.released_matched + c.released_early + c.released_uncompared + c.released_committed + stats_.degraded_output;
}

}  // namespace tandem::lockstep
