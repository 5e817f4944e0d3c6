// `migrate` on a pair's primary (issue 15's live migration) through the production session
// objects on the host (session_rig.hpp): the guest moves to a machine booted mode=migrate once
// that machine's copy has caught up, exactly where it stopped (its vCPU, device and memory state
// judged against the stopped source's, read by the rig outside tandem); the source then runs
// nothing. Given up, with the guest running on at the source, when the target is lost or the
// time bound passes; refused where it cannot be done.
#include <doctest/doctest.h>

#include "helpers.hpp"
#include "json_schema_check.hpp"
#include "session_rig.hpp"

using namespace session_test;
using tandem::Role;

namespace {

tandem::Config target_config() {
    tandem::Config c = SessionPairRig::config(Role::backup);
    c.mode = tandem::Mode::migrate;  // what the configuration makes of mode=migrate: role backup
    return c;
}

}  // namespace

TEST_CASE("pair migrate: asked before the target boots, the guest moves once its copy has caught up; the source then runs nothing") {
    SessionPairRig rig(51);
    auto& a = rig.add(SessionPairRig::config(Role::primary), 0, 1);
    rig.run_until([] { return false; }, kSecond / 2);  // unprotected, serving
    type(a, "migrate\r");
    CHECK(a.machine.out_.contains("migrate: waiting for the target: boot the machine that receives the guest with "
                                  "mode=migrate on this link"));
    type(a, "migrate\r");
    CHECK(a.machine.out_.contains("migrate: already under way ('migrate cancel' calls it off)"));
    type(a, "switchover\r");
    CHECK(a.machine.out_.contains("switchover: refused: a migration is under way"));
    rig.run_until([] { return false; }, kSecond / 2);
    CHECK(a.machine.running);  // nothing happens without a target
    type(a, "status\r");
    CHECK(a.machine.out_.contains("pair: migrate asked 500 ms ago: the guest moves once the target holds all of it"));
    type(a, "status --json\r");
    CHECK(schema_test::check_console_json(last_json(a)) == "");
    CHECK(last_json(a).find("\"migration\":{\"state\":\"waiting_for_target\",\"since_ms\":500,\"pre_copy_rounds\":0,"
                            "\"expected_stop_ms\":null,\"cpu_percent\":100,\"throttled_to_percent\":100}") !=
          std::string::npos);

    auto& b = rig.add(target_config(), 1, 2);
    REQUIRE(rig.run_until([&] { return !a.machine.running; }, 30 * kSecond));
    CHECK(a.machine.out_.contains("migrate: the target holds the guest ("));
    type(a, "status --json\r");
    CHECK(last_json(a).find("\"migration\":{\"state\":\"final_copy\"") != std::string::npos);
    std::uint64_t tsc = a.machine.guest_tsc;
    std::vector<std::uint8_t> memory = a.machine.snapshot();
    std::uint8_t scratch = a.machine.uart_scratch();
    std::uint64_t stopped_at = rig.clock.now;
    REQUIRE(rig.run_until([&] { return b.session.primary() != nullptr && b.guest_running; }, 5 * kSecond));
    CHECK(rig.clock.now - stopped_at < 200'000'000);  // about an epoch and a round trip
    CHECK(b.machine.guest_tsc == tsc);
    CHECK(b.machine.uart_scratch() == scratch);
    CHECK(b.machine.snapshot() == memory);
    CHECK(b.machine.out_.contains("migrate: the guest runs here now (moved here by its primary)"));
    CHECK_FALSE(b.machine.out_.contains("pair: no answer from the primary"));
    REQUIRE(rig.run_until([&] { return a.machine.out_.contains("migrate: done: "); }, kSecond));
    CHECK(a.machine.out_.contains("migrate: this machine now runs nothing and stays silent"));

    // Afterwards: the guest runs on the target only, which waits for a backup; the source is silent.
    rig.run_until([] { return false; }, 2 * kSecond);
    CHECK_FALSE(a.guest_running);
    CHECK(b.machine.running);
    CHECK(b.session.primary()->phase() == tandem::engine::PrimaryReplicator::Phase::waiting);
    CHECK(b.machine.cpu_restores == 1);
    type(a, "status\r");
    CHECK(a.machine.out_.contains("pair: this machine handed the guest to its target (migrate on this console); it runs "
                                  "nothing now"));
    type(a, "status --json\r");
    std::string status = last_json(a);
    CHECK(schema_test::check_console_json(status) == "");
    CHECK(status.find("\"phase\":\"handed_over\"") != std::string::npos);
    CHECK(status.find("\"migration\":{\"state\":\"done\"") != std::string::npos);
    type(b, "status --json\r");
    status = last_json(b);
    CHECK(schema_test::check_console_json(status) == "");
    CHECK(status.find("\"cause\":\"handover\"") != std::string::npos);
    CHECK(status.find("\"mode\":\"migrate\"") != std::string::npos);  // the machine booted mode=migrate
    CHECK(status.find("\"migration\":null") != std::string::npos);      // none asked on it

    // The source protects the guest it gave away: it rejoins as the target's backup.
    type(a, "reprotect\r");
    REQUIRE(rig.run_until([&] { return SessionPairRig::is_protected(b, a); }, 20 * kSecond));
    CHECK_FALSE(a.guest_running);
}

TEST_CASE("pair migrate: to a protected backup at once; refusals and 'migrate cancel'") {
    SessionPairRig rig(52);
    auto& a = rig.add(SessionPairRig::config(Role::primary), 0, 1);
    auto& b = rig.add(SessionPairRig::config(Role::backup), 1, 2);
    type(a, "migrate now\r");
    CHECK(a.machine.out_.contains("migrate: the only option is cancel"));
    type(a, "migrate cancel\r");
    CHECK(a.machine.out_.contains("migrate: no migration is under way"));
    type(b, "migrate\r");
    CHECK(b.machine.out_.contains("migrate: this machine does not run the guest: run migrate on the machine that does"));
    // Asked while the backup copies, then called off: the pair goes on protected, the guest here.
    REQUIRE(rig.run_until([&] { return a.session.primary()->phase() != tandem::engine::PrimaryReplicator::Phase::waiting; },
                          5 * kSecond));
    type(a, "migrate\r");
    type(a, "migrate cancel\r");
    CHECK(a.machine.out_.contains("migrate: called off on the console; the guest runs on here (the target stays "
                                  "joined, as a backup)"));
    REQUIRE(rig.run_until([&] { return SessionPairRig::is_protected(a, b); }, 20 * kSecond));
    rig.run_until([] { return false; }, kSecond / 2);
    CHECK(a.machine.running);
    CHECK(b.session.primary() == nullptr);

    type(a, "migrate\r");
    CHECK(a.machine.out_.contains("migrate: the backup holds the guest: the guest moves to it now"));
    REQUIRE(rig.run_until([&] { return b.session.primary() != nullptr && b.guest_running; }, 5 * kSecond));
    REQUIRE(rig.run_until([&] { return a.machine.out_.contains("migrate: done: "); }, kSecond));
    CHECK_FALSE(a.guest_running);
}

TEST_CASE("pair migrate: given up when the target is lost before it holds the guest, or after migrate_max_s") {
    SessionPairRig rig(53);
    tandem::Config source = SessionPairRig::config(Role::primary);
    source.migrate_max_s = 3;
    auto& a = rig.add(source, 0, 1);
    type(a, "migrate\r");
    auto& b = rig.add(target_config(), 1, 2);
    REQUIRE(rig.run_until([&] { return a.machine.out_.contains("pair: backup joined"); }, 5 * kSecond));
    rig.kill(b);  // before it acknowledged anything of the copy
    REQUIRE(rig.run_until([&] { return a.machine.out_.contains("migrate: gave up: the target was lost before it held the "
                                                               "guest; the guest runs on here"); },
                          5 * kSecond));
    CHECK(a.machine.running);
    CHECK(a.machine.cpu_restores == 0);

    // No target at all: given up after migrate_max_s, the guest still here.
    type(a, "migrate\r");
    std::uint64_t asked = rig.clock.now;
    REQUIRE(rig.run_until([&] { return a.machine.out_.contains("within migrate_max_s"); }, 5 * kSecond));
    CHECK(rig.clock.now - asked >= 3 * kSecond);
    CHECK(a.machine.running);
    type(a, "migrate cancel\r");
    CHECK(a.machine.out_.contains("migrate: no migration is under way"));
}

TEST_CASE("pair reprotect: a machine that handed its guest over rejoins as the backup; elsewhere it says why not") {
    SessionPairRig rig(54);
    auto& a = rig.add(SessionPairRig::config(Role::primary), 0, 1);
    auto& b = rig.add(SessionPairRig::config(Role::backup), 1, 2);
    type(a, "reprotect\r");
    CHECK(a.machine.out_.contains("reprotect: nothing to do: this machine runs the guest and takes a backup by itself"));
    REQUIRE(rig.run_until([&] { return SessionPairRig::is_protected(a, b); }, 20 * kSecond));
    type(b, "reprotect\r");
    CHECK(b.machine.out_.contains("reprotect: this machine is a backup already (protected)"));

    // A failover on the console: a hands the guest to b and runs nothing; reprotect makes it b's backup.
    type(a, "failover\r");
    REQUIRE(rig.run_until([&] { return b.session.primary() != nullptr && b.guest_running; }, 5 * kSecond));
    REQUIRE(rig.run_until([&] { return a.machine.out_.contains("this machine now runs nothing"); }, kSecond));
    rig.run_until([] { return false; }, kSecond);
    CHECK(a.session.backup() == nullptr);  // handed over: silent, neither side's engine
    type(a, "reprotect\r");
    CHECK(a.machine.out_.contains("reprotect: this machine rejoins as the backup of the machine the guest went to"));
    REQUIRE(rig.run_until([&] { return SessionPairRig::is_protected(b, a); }, 20 * kSecond));
    CHECK_FALSE(a.guest_running);
    CHECK(b.machine.running);
    // And it protects for real: b fails, a takes over.
    rig.kill(b);
    REQUIRE(rig.run_until([&] { return a.session.took_over() && a.guest_running; }, 5 * kSecond));
}

TEST_CASE("pair migrate: a machine booted mode=standalone with a link key takes no backup, only the target of 'migrate'") {
    SessionPairRig rig(54);
    tandem::Config standalone = SessionPairRig::config(Role::primary);
    standalone.mode = tandem::Mode::standalone;
    auto& a = rig.add(standalone, 0, 1);
    CHECK(a.machine.out_.contains("standalone: the guest runs here alone, with no backup; 'migrate' moves it to a machine "
                                  "booted mode=migrate on this link"));
    CHECK_FALSE(a.machine.out_.contains("UNPROTECTED until a backup has joined"));
    // A machine on the link (a backup, or a target booted early) gets nothing: no copy, no protection.
    auto& b = rig.add(target_config(), 1, 2);
    rig.run_until([] { return false; }, 3 * kSecond);
    CHECK(a.machine.out_.contains("standalone: a machine is on the link; it gets the guest only when 'migrate' is asked "
                                  "here (this machine takes no backup)"));
    CHECK(test::count(a.machine.out_.text_, "standalone: a machine is on the link") == 1);
    CHECK(a.session.primary()->phase() == tandem::engine::PrimaryReplicator::Phase::waiting);
    CHECK_FALSE(a.machine.out_.contains("pair: backup joined"));
    type(a, "status --json\r");
    std::string status = last_json(a);
    CHECK(schema_test::check_console_json(status) == "");
    CHECK(status.find("\"mode\":\"standalone\",\"protection\":\"unprotected\"") != std::string::npos);

    // Asked, the waiting machine copies the guest and it moves there exactly where it stopped.
    type(a, "migrate\r");
    CHECK(a.machine.out_.contains("migrate: the machine waiting on the link copies the guest now"));
    REQUIRE(rig.run_until([&] { return !a.machine.running; }, 30 * kSecond));
    std::uint64_t tsc = a.machine.guest_tsc;
    std::vector<std::uint8_t> memory = a.machine.snapshot();
    REQUIRE(rig.run_until([&] { return b.guest_running; }, 5 * kSecond));
    CHECK(b.machine.guest_tsc == tsc);
    CHECK(b.machine.snapshot() == memory);
    REQUIRE(rig.run_until([&] { return a.machine.out_.contains("migrate: done: "); }, kSecond));
    rig.run_until([] { return false; }, kSecond);
    CHECK_FALSE(a.guest_running);
}
