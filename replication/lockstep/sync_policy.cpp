#include "replication/lockstep/sync_policy.hpp"

namespace tandem::lockstep {

const char* sync_reason_name(SyncReason reason) {
    switch (reason) {
    case SyncReason::join: return "join";
    case SyncReason::mismatch: return "mismatch";
    case SyncReason::timeout: return "timeout";
    case SyncReason::queue_full: return "queue full";
    case SyncReason::known_difference: return "known difference";
    case SyncReason::periodic: return "periodic";
    case SyncReason::degraded_epoch: return "degraded epoch";
    }
    return "unknown";
}

bool is_divergence(SyncReason reason) {
    return reason == SyncReason::mismatch || reason == SyncReason::timeout || reason == SyncReason::queue_full ||
           reason == SyncReason::known_difference;
}

SyncPolicy::SyncPolicy(const SyncPolicyConfig& config) : config_(config) {
    if (config_.degrade_at == 0) config_.degrade_at = 1;
    if (config_.degrade_at > kMaxDegradeAt) config_.degrade_at = kMaxDegradeAt;
    if (config_.max_hold_ns < config_.first_hold_ns) config_.max_hold_ns = config_.first_hold_ns;
    hold_ns_ = config_.first_hold_ns;
}

std::optional<SyncReason> SyncPolicy::due(Divergence divergence, bool guests_differ, std::uint64_t now_ns) {
    if (!started_) return std::nullopt;  // the session takes the join's checkpoint itself
    std::uint64_t since = now_ns > last_ns_ ? now_ns - last_ns_ : 0;
    if (degraded_) {
        // Output leaves by checkpoint: the guests' differences no longer matter until lockstep
        // is tried again.
        return since >= config_.epoch_ns ? std::optional{SyncReason::degraded_epoch} : std::nullopt;
    }
    std::optional<SyncReason> reason;
    if (guests_differ) {
        reason = SyncReason::known_difference;
    } else if (divergence == Divergence::mismatch) {
        reason = SyncReason::mismatch;
    } else if (divergence == Divergence::timeout) {
        reason = SyncReason::timeout;
    } else if (divergence == Divergence::queue_full) {
        reason = SyncReason::queue_full;
    }
    if (reason) {
        if (since >= config_.min_gap_ns) return reason;
        if (!waiting_noted_) ++rate_limited_;
        waiting_noted_ = true;
        return std::nullopt;
    }
    if (since >= config_.max_ns) return SyncReason::periodic;
    return std::nullopt;
}

SyncPolicy::Change SyncPolicy::checkpoint_taken(SyncReason reason, std::uint64_t now_ns) {
    ++counts_[static_cast<std::size_t>(reason)];
    started_ = true;
    last_ns_ = now_ns;
    waiting_noted_ = false;
    if (!is_divergence(reason) || degraded_) return Change::none;
    recent_[recent_next_] = now_ns;
    recent_next_ = (recent_next_ + 1) % config_.degrade_at;
    if (recent_count_ < config_.degrade_at) ++recent_count_;
    if (!degrade_due(now_ns)) return Change::none;
    // Degrading again soon after a recovery: the guest's output still differs; wait longer.
    if (recovered_once_ && now_ns - recovered_at_ns_ < hold_ns_) {
        hold_ns_ = hold_ns_ * 2 > config_.max_hold_ns ? config_.max_hold_ns : hold_ns_ * 2;
    } else {
        hold_ns_ = config_.first_hold_ns;
    }
    degraded_ = true;
    degraded_until_ns_ = now_ns + hold_ns_;
    recent_count_ = 0;
    ++degradations_;
    return Change::degraded;
}

SyncPolicy::Change SyncPolicy::poll(std::uint64_t now_ns) {
    if (!degraded_ || now_ns < degraded_until_ns_) return Change::none;
    degraded_ = false;
    recovered_once_ = true;
    recovered_at_ns_ = now_ns;
    return Change::recovered;
}

bool SyncPolicy::degrade_due(std::uint64_t now_ns) const {
    if (recent_count_ < config_.degrade_at) return false;
    // The oldest of the last degrade_at divergence checkpoints: the ring's next slot.
    std::uint64_t oldest = recent_[recent_next_ % config_.degrade_at];
    return now_ns - oldest < 1'000'000'000;
}

}  // namespace tandem::lockstep
