// When a lockstep primary checkpoints (issue 13; DESIGN §1). Both guests run; a checkpoint makes
// the backup's guest the primary's again. It is taken for a reason:
//   join            the first: the backup's guest starts running from it
//   mismatch, timeout, queue_full   the comparator's divergences (output_comparator.hpp)
//   known_difference  the guests differ for certain: a client frame reached the primary's
//                   guest but not the link, or the backup's output has a gap
//   periodic        lockstep_max_ms without one: bounds the dirty set a checkpoint carries
//   degraded_epoch  checkpoint mode's epoch, while degraded (below)
// Divergences are rate limited: at most one checkpoint per min_gap (a divergence waits, and the
// frames it concerns wait with it: nothing leaves unmatched). Unlike COLO's checkpoint storms,
// `degrade_at` divergence checkpoints within one second degrade the mode: output is released by
// checkpoint as in checkpoint mode (an epoch every epoch_ms) for a while, then lockstep is tried
// again; the while doubles each time lockstep degrades again soon after (up to max_hold), and
// starts over once lockstep held for that long.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "replication/lockstep/output_comparator.hpp"

namespace tandem::lockstep {

enum class SyncReason : std::uint8_t { join, mismatch, timeout, queue_full, known_difference, periodic, degraded_epoch };
inline constexpr std::size_t kSyncReasons = 7;
const char* sync_reason_name(SyncReason reason);
bool is_divergence(SyncReason reason);

struct SyncPolicyConfig {
    std::uint64_t max_ns = 1'000'000'000;     // lockstep_max_ms
    std::uint64_t min_gap_ns = 20'000'000;    // between two checkpoints for divergence
    std::uint64_t epoch_ns = 50'000'000;      // checkpoint mode's epoch, while degraded
    std::uint32_t degrade_at = 10;            // divergence checkpoints within one second
    std::uint64_t first_hold_ns = 1'000'000'000;  // how long the first degradation lasts
    std::uint64_t max_hold_ns = 60'000'000'000;
};

class SyncPolicy {
public:
    static constexpr std::uint32_t kMaxDegradeAt = 64;
    enum class Change : std::uint8_t { none, degraded, recovered };

    // degrade_at is clamped to 1..kMaxDegradeAt.
    explicit SyncPolicy(const SyncPolicyConfig& config);

    // Is a checkpoint due now, and why? `divergence`: the comparator's; `known_difference`: a
    // the guests differ for certain. None: not now (nothing to do, or a divergence waits for the
    // rate limit, counted once per divergence by rate_limited()).
    std::optional<SyncReason> due(Divergence divergence, bool guests_differ, std::uint64_t now_ns);
    // A checkpoint for `reason` was captured at now_ns: a new generation began. Says whether
    // the mode degraded or recovered with it.
    Change checkpoint_taken(SyncReason reason, std::uint64_t now_ns);
    // The backup is gone: the next backup's join starts over (not degraded; counts kept).
    void restart() {
        started_ = degraded_ = waiting_noted_ = false;
        recent_count_ = 0;
    }
    // While degraded: has the hold ended? (Lockstep is tried again with the next checkpoint.)
    Change poll(std::uint64_t now_ns);

    bool degraded() const { return degraded_; }
    std::uint32_t degrade_at() const { return config_.degrade_at; }
    std::uint64_t hold_ns() const { return hold_ns_; }
    std::uint64_t count(SyncReason reason) const { return counts_[static_cast<std::size_t>(reason)]; }
    std::uint64_t rate_limited() const { return rate_limited_; }
    std::uint64_t degradations() const { return degradations_; }

private:
    bool degrade_due(std::uint64_t now_ns) const;

    SyncPolicyConfig config_;
    bool started_ = false;              // the join's checkpoint was taken
    std::uint64_t last_ns_ = 0;         // the last checkpoint
    bool waiting_noted_ = false;        // the divergence now waiting was counted as rate limited
    std::uint64_t recent_[kMaxDegradeAt]{};  // the last divergence checkpoints, a ring
    std::size_t recent_next_ = 0, recent_count_ = 0;
    bool degraded_ = false;
    std::uint64_t degraded_until_ns_ = 0, recovered_at_ns_ = 0;
    bool recovered_once_ = false;
    std::uint64_t hold_ns_ = 0;
    std::uint64_t counts_[kSyncReasons]{};
    std::uint64_t rate_limited_ = 0, degradations_ = 0;
};

}  // namespace tandem::lockstep
