// A lockstep pair through its production session objects (replication/sessions/pair_lockstep.cpp)
// on the host (session_rig.hpp): the backup joins with the pre-copy, then runs its own guest from
// each generation's checkpoint; the guests write different bytes (the rig's random writes), so at
// each generation start the backup's RAM must become exactly what the primary's guest was at that
// capture (recorded by the rig outside tandem). When the primary dies, the backup takes over from
// its live guest, not from the committed image.
#include <doctest/doctest.h>

#include "session_rig.hpp"

using namespace session_test;
using tandem::Role;

namespace {

tandem::Config lockstep_config(Role role, bool guest_mac = true) {
    tandem::Config c = SessionPairRig::config(role, guest_mac);
    c.mode = tandem::Mode::lockstep;
    c.lockstep_max_ms = 60;
    return c;
}

}  // namespace

TEST_CASE("lockstep session: the backup's guest runs from each generation's checkpoint, its RAM the primary's at that capture") {
    SessionPairRig rig(33);
    auto& a = rig.add(lockstep_config(Role::primary), 0, 1);
    std::vector<std::vector<std::uint8_t>> at_capture;  // by epoch
    a.machine.on_capture = [&] { at_capture.push_back(a.machine.snapshot()); };
    auto& b = rig.add(lockstep_config(Role::backup), 1, 2);
    REQUIRE(rig.run_until([&] { return b.session.backup_guest_running(); }, 20 * kSecond));
    CHECK(b.machine.out_.contains("lockstep: the backup's guest runs from epoch"));

    // Generations go by (the periodic bound: no network output to compare here). At every start
    // the backup's RAM is the primary's at that epoch's capture, though both guests wrote since.
    unsigned checked = 0;
    std::uint64_t generation = b.session.lockstep_backup()->generation();
    while (checked < 5) {
        REQUIRE(rig.run_until([&] { return b.session.lockstep_backup()->generation() != generation; }, 2 * kSecond));
        generation = b.session.lockstep_backup()->generation();
        REQUIRE(generation < at_capture.size());
        CHECK(b.machine.snapshot() == at_capture[generation]);
        ++checked;
        rig.run_until([] { return false; }, 10 * SessionPairRig::kTickNs);  // both guests write
        CHECK(b.machine.snapshot() != at_capture[generation]);
    }
    const auto* lp = a.session.lockstep_primary();
    REQUIRE(lp != nullptr);
    CHECK(lp->joined());
    CHECK(lp->policy().count(tandem::lockstep::SyncReason::join) == 1);
    CHECK(lp->policy().count(tandem::lockstep::SyncReason::periodic) >= 5);
    unsigned restores = b.machine.cpu_restores;
    CHECK(restores >= 6);  // one per generation start

    // The primary dies: the backup's live guest goes on (no restore of the committed epoch).
    auto before = b.machine.snapshot();
    rig.kill(a);
    REQUIRE(rig.run_until([&] { return b.session.took_over(); }, 5 * kSecond));
    CHECK(b.machine.out_.contains("pair: the guest resumes here from epoch"));
    CHECK(b.machine.cpu_restores <= restores + 1);  // at most the generation committed last
    CHECK(b.session.primary() != nullptr);
    rig.run_until([] { return false; }, kSecond / 10);
    CHECK(b.guest_running);
}

TEST_CASE("lockstep session: a checkpoint-mode backup is refused on both sides, with the reason") {
    SessionPairRig rig(34);
    auto& a = rig.add(lockstep_config(Role::primary), 0, 1);
    auto& b = rig.add(SessionPairRig::config(Role::backup), 1, 2);
    rig.run_until([] { return false; }, 2 * kSecond);
    CHECK(a.machine.out_.contains("pair mode mismatch"));
    CHECK(b.machine.out_.contains("pair mode mismatch"));
    CHECK(a.session.primary()->phase() == tandem::engine::PrimaryReplicator::Phase::waiting);
    CHECK_FALSE(b.session.backup()->is_protected());
}
