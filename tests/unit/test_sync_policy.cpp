// When a lockstep primary checkpoints (replication/lockstep/sync_policy.hpp): divergences at
// once but rate limited, the periodic bound, and degradation to checkpoint-mode release with its
// recovery.
#include <doctest/doctest.h>

#include "replication/lockstep/sync_policy.hpp"

using namespace tandem::lockstep;

namespace {

constexpr std::uint64_t kMs = 1'000'000;

SyncPolicyConfig config() {
    SyncPolicyConfig c;
    c.max_ns = 1000 * kMs;
    c.min_gap_ns = 20 * kMs;
    c.epoch_ns = 50 * kMs;
    c.degrade_at = 5;
    c.first_hold_ns = 1000 * kMs;
    c.max_hold_ns = 3000 * kMs;
    return c;
}

}  // namespace

TEST_CASE("sync policy: nothing before the join's checkpoint, then the periodic bound") {
    SyncPolicy p(config());
    CHECK_FALSE(p.due(Divergence::mismatch, true, 10'000 * kMs));  // the session takes the join itself
    CHECK(p.checkpoint_taken(SyncReason::join, 0) == SyncPolicy::Change::none);
    CHECK_FALSE(p.due(Divergence::none, false, 999 * kMs));
    CHECK(p.due(Divergence::none, false, 1000 * kMs) == SyncReason::periodic);
    CHECK(p.count(SyncReason::join) == 1);
}

TEST_CASE("sync policy: a divergence checkpoints at once, or waits for the gap since the last") {
    SyncPolicy p(config());
    p.checkpoint_taken(SyncReason::join, 0);
    CHECK(p.due(Divergence::mismatch, false, 30 * kMs) == SyncReason::mismatch);
    p.checkpoint_taken(SyncReason::mismatch, 30 * kMs);
    CHECK_FALSE(p.due(Divergence::timeout, false, 35 * kMs));  // 5 ms after: rate limited
    CHECK_FALSE(p.due(Divergence::timeout, false, 45 * kMs));
    CHECK(p.rate_limited() == 1);  // one divergence, counted once however often asked
    CHECK(p.due(Divergence::timeout, false, 50 * kMs) == SyncReason::timeout);
    p.checkpoint_taken(SyncReason::timeout, 50 * kMs);
    CHECK(p.due(Divergence::queue_full, false, 70 * kMs) == SyncReason::queue_full);
    CHECK(p.due(Divergence::none, true, 70 * kMs) == SyncReason::known_difference);
    CHECK(p.due(Divergence::mismatch, true, 70 * kMs) == SyncReason::known_difference);
    CHECK(p.count(SyncReason::mismatch) == 1);
    CHECK(p.count(SyncReason::timeout) == 1);
}

TEST_CASE("sync policy: too many divergences within a second degrade, the hold ends, and a relapse doubles it") {
    SyncPolicy p(config());
    p.checkpoint_taken(SyncReason::join, 0);
    std::uint64_t t = 0;
    for (int i = 0; i < 4; ++i) {
        t += 25 * kMs;
        CHECK(p.checkpoint_taken(SyncReason::mismatch, t) == SyncPolicy::Change::none);
    }
    t += 25 * kMs;
    CHECK(p.checkpoint_taken(SyncReason::mismatch, t) == SyncPolicy::Change::degraded);  // 5 within 125 ms
    CHECK(p.degraded());
    CHECK(p.hold_ns() == 1000 * kMs);
    // Degraded: differences no longer matter, an epoch every epoch_ns.
    CHECK_FALSE(p.due(Divergence::mismatch, true, t + 49 * kMs));
    CHECK(p.due(Divergence::none, false, t + 50 * kMs) == SyncReason::degraded_epoch);
    p.checkpoint_taken(SyncReason::degraded_epoch, t + 50 * kMs);
    CHECK(p.poll(t + 999 * kMs) == SyncPolicy::Change::none);
    CHECK(p.poll(t + 1000 * kMs) == SyncPolicy::Change::recovered);
    CHECK_FALSE(p.degraded());
    // Relapse at once: twice the hold.
    t += 1000 * kMs;
    for (int i = 0; i < 5; ++i) p.checkpoint_taken(SyncReason::timeout, t += 21 * kMs);
    CHECK(p.degraded());
    CHECK(p.hold_ns() == 2000 * kMs);
    CHECK(p.poll(t + 2000 * kMs) == SyncPolicy::Change::recovered);
    t += 2000 * kMs;
    for (int i = 0; i < 5; ++i) p.checkpoint_taken(SyncReason::timeout, t += 21 * kMs);
    CHECK(p.hold_ns() == 3000 * kMs);  // capped at max_hold
    CHECK(p.degradations() == 3);
    // Lockstep held longer than the hold after recovering: the next degradation starts over.
    CHECK(p.poll(t + 3000 * kMs) == SyncPolicy::Change::recovered);
    t += 3000 * kMs + 5000 * kMs;
    for (int i = 0; i < 5; ++i) p.checkpoint_taken(SyncReason::mismatch, t += 21 * kMs);
    CHECK(p.hold_ns() == 1000 * kMs);
}

TEST_CASE("sync policy: divergences spread wider than a second do not degrade") {
    SyncPolicy p(config());
    p.checkpoint_taken(SyncReason::join, 0);
    std::uint64_t t = 0;
    for (int i = 0; i < 50; ++i) CHECK(p.checkpoint_taken(SyncReason::mismatch, t += 260 * kMs) == SyncPolicy::Change::none);
    // Periodic checkpoints are no divergence at all.
    for (int i = 0; i < 50; ++i) CHECK(p.checkpoint_taken(SyncReason::periodic, t += 1 * kMs) == SyncPolicy::Change::none);
    CHECK_FALSE(p.degraded());
}
