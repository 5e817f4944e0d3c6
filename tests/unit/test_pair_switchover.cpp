// `switchover` on a pair's primary (issue 15's planned switchover, issue 16's shell) through the
// production session objects on the host (session_rig.hpp): the guest continues on the backup
// exactly where it stopped (its vCPU, device and memory state judged against the stopped
// primary's, read by the rig outside tandem), the old primary rejoins as the backup, and the
// guest can go back the same way. Called off when the backup cannot take the last epoch: the
// guest resumes where it was, and only there.
#include <doctest/doctest.h>

#include "json_schema_check.hpp"
#include "session_rig.hpp"

using namespace session_test;
using tandem::Role;

namespace {

// Switches the guest from `from` to `to` and checks that it continues exactly where it stopped.
void switch_over(SessionPairRig& rig, SessionPairRig::Node& from, SessionPairRig::Node& to) {
    rig.run_until([] { return false; }, kSecond / 2);
    type(from, "switchover\r");
    REQUIRE_FALSE(from.machine.running);
    std::uint64_t tsc = from.machine.guest_tsc;
    std::vector<std::uint8_t> memory = from.machine.snapshot();
    std::uint8_t scratch = from.machine.uart_scratch();
    std::uint64_t asked_at = rig.clock.now;
    std::uint64_t ticks = to.machine.ticks;
    REQUIRE(rig.run_until([&] { return to.session.primary() != nullptr && to.guest_running; }, 5 * kSecond));
    CHECK(to.machine.ticks == ticks);
    CHECK(to.machine.cpu_restores >= 1);
    CHECK(rig.clock.now - asked_at < 200'000'000);  // about an epoch and a round trip, no silence timeout
    CHECK(to.machine.guest_tsc == tsc);
    CHECK(to.machine.uart_scratch() == scratch);
    CHECK(to.machine.snapshot() == memory);
    CHECK_FALSE(to.machine.out_.contains("pair: no answer from the primary"));
    REQUIRE(rig.run_until([&] { return from.session.primary() == nullptr; }, kSecond));
    // The old primary never ran the guest again and is now the backup; the pair is protected.
    CHECK(from.session.primary() == nullptr);
    CHECK(from.session.backup() != nullptr);
    REQUIRE(rig.run_until([&] { return SessionPairRig::is_protected(to, from); }, 20 * kSecond));
    CHECK_FALSE(from.guest_running);
}

}  // namespace

TEST_CASE("pair switchover: the guest goes on at the backup where it stopped, there and back") {
    SessionPairRig rig(41);
    auto& a = rig.add(SessionPairRig::config(Role::primary), 0, 1);
    auto& b = rig.add(SessionPairRig::config(Role::backup), 1, 2);
    type(a, "switchover\r");
    CHECK(a.machine.out_.contains("switchover: refused: no backup holds a protected epoch yet"));
    REQUIRE(rig.run_until([&] { return SessionPairRig::is_protected(a, b); }, 20 * kSecond));
    type(b, "switchover\r");
    CHECK(b.machine.out_.contains("switchover: this machine is the backup: run switchover on the primary"));

    switch_over(rig, a, b);
    CHECK(a.machine.out_.contains("switchover: the backup has the notice and takes over; this machine becomes its backup"));
    CHECK(b.machine.out_.contains("pair: taking over from epoch "));
    type(b, "status --json\r");
    switch_over(rig, b, a);
    CHECK(a.machine.cpu_restores == 1);
    CHECK(b.machine.cpu_restores == 1);
    std::string said = b.machine.out_.text_;
    std::size_t at = said.find("{\"schema\"");
    REQUIRE(at != std::string::npos);
    std::string line = said.substr(at, said.find('\n', at) - at);
    CHECK(schema_test::check_console_json(line) == "");
    CHECK(line.find("\"last_failover\":{") != std::string::npos);
    CHECK(line.find("\"cause\":\"handover\"") != std::string::npos);
}

TEST_CASE("pair switchover: called off when the backup cannot take the last epoch; the guest resumes where it was") {
    SessionPairRig rig(42);
    auto& a = rig.add(SessionPairRig::config(Role::primary), 0, 1);
    auto& b = rig.add(SessionPairRig::config(Role::backup), 1, 2);
    REQUIRE(rig.run_until([&] { return SessionPairRig::is_protected(a, b); }, 20 * kSecond));
    rig.link.set_partitioned(true);
    type(a, "switchover\r");
    REQUIRE_FALSE(a.machine.running);
    std::uint64_t tsc = a.machine.guest_tsc;
    REQUIRE(rig.run_until([&] { return a.machine.out_.contains("switchover: called off: "); }, 5 * kSecond));
    REQUIRE(rig.run_until([&] { return a.guest_running; }, kSecond));
    CHECK(a.machine.guest_tsc == tsc);  // resumed as it was, on this machine
    CHECK(a.session.primary() != nullptr);
    // The stopped primary answered the backup's probes: no takeover while it lived.
    rig.run_until([] { return false; }, kSecond);
    CHECK_FALSE(b.session.took_over());
    CHECK(b.machine.cpu_restores == 0);
    CHECK(a.machine.running);
}
