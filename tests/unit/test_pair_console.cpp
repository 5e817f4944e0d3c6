// The pair's shell (issue 16) over the production session objects on the host (session_rig.hpp):
// `status`, `stats` and `link` in their JSON forms, parsed by an independent parser and checked
// against docs/console-schema.json, say what the rig sees the pair doing; `failover` on the
// primary hands the guest to the backup at once and leaves exactly one machine running it.
#include <doctest/doctest.h>

#include "json_schema_check.hpp"
#include "replication/sessions/single_status_json.hpp"
#include "session_rig.hpp"

using namespace session_test;
using tandem::Role;

namespace {

// Types a command and returns the one JSON line it answered (checked against the schema).
nlohmann::json ask_json(SessionPairRig::Node& n, const std::string& command) {
    std::size_t from = n.machine.out_.text_.size();
    type(n, command + "\r");
    std::string answer = n.machine.out_.text_.substr(from);
    std::size_t open = answer.find('{');
    REQUIRE(open != std::string::npos);
    std::string line = answer.substr(open, answer.find('\n', open) - open);
    INFO(line);
    CHECK(schema_test::check_console_json(line) == "");
    return nlohmann::json::parse(line);
}

}  // namespace

TEST_CASE("pair console: status, stats and link in JSON match the schema and what the pair does") {
    SessionPairRig rig(31);
    auto& a = rig.add(SessionPairRig::config(Role::primary), 0, 1);
    auto& b = rig.add(SessionPairRig::config(Role::backup), 1, 2);
    auto early = ask_json(a, "status --json");
    CHECK(early["role"] == "primary");
    CHECK(early["protection"] == "unprotected");
    CHECK(early["phase"] == "waiting");
    CHECK(ask_json(b, "status --json")["protection"] == "unprotected");

    REQUIRE(rig.run_until([&] { return SessionPairRig::is_protected(a, b); }, 20 * kSecond));
    rig.run_until([] { return false; }, 2 * kSecond);
    auto first = ask_json(a, "status --json");
    CHECK(first["kind"] == "status");
    CHECK(first["mode"] == "checkpoint");
    CHECK(first["protection"] == "protected");
    CHECK(first["phase"] == "protecting");
    CHECK(first["guest"] == "running");
    CHECK(first["epoch"]["length_ms"] == 20);
    CHECK(first["epoch"]["committed"].is_null());
    CHECK(first["epoch"]["acknowledged"].get<std::uint64_t>() >= first["epoch"]["protected_from"].get<std::uint64_t>());
    CHECK(first["last_failover"].is_null());
    CHECK(first["backups"]["joined"] == 1);
    CHECK(first["uptime_ms"].get<std::uint64_t>() == rig.clock.now / 1'000'000);
    auto backup = ask_json(b, "status --json");
    CHECK(backup["role"] == "backup");
    CHECK(backup["protection"] == "protected");
    CHECK(backup["phase"] == "following");
    CHECK(backup["guest"] == "not_here");
    CHECK(backup["epoch"]["current"].is_null());
    CHECK(backup["epoch"]["length_ms"].is_null());
    CHECK(backup["epoch"]["committed"].get<std::uint64_t>() >= first["epoch"]["acknowledged"].get<std::uint64_t>());

    rig.run_until([] { return false; }, kSecond);  // 50 more epochs of 20 ms
    auto later = ask_json(a, "status --json");
    std::uint64_t advanced = later["epoch"]["current"].get<std::uint64_t>() - first["epoch"]["current"].get<std::uint64_t>();
    CHECK(advanced >= 45);
    CHECK(advanced <= 51);

    auto stats = ask_json(a, "stats --json");
    CHECK(stats["epochs"]["completed"].get<std::uint64_t>() >= 100);
    CHECK(stats["epochs"]["last"]["dirty_pages"].get<std::uint64_t>() >= 1);  // the rig writes 3 pages a tick
    CHECK(stats["epochs"]["pause_us_max"].get<std::uint64_t>() >= stats["epochs"]["pause_us_mean"].get<std::uint64_t>());
    CHECK(stats["link"]["state"] == "established");
    CHECK(stats["link"]["stream_bytes"] == a.session.primary()->stats().stream_bytes_total);
    CHECK(stats["link"]["throughput_bytes_per_s"].get<std::uint64_t>() > 0);
    auto backup_stats = ask_json(b, "stats --json");
    CHECK(backup_stats["epochs"]["pause_us_mean"].is_null());
    CHECK(backup_stats["link"]["stream_bytes"].get<std::uint64_t>() > 0);

    auto link = ask_json(b, "link --json");
    CHECK(link["kind"] == "link");
    CHECK(link["role"] == "backup");
    CHECK(link["authenticated"] == true);
    CHECK(link["frames_received"] == b.session.transport().stats().frames_received);
    CHECK(link["peer_last_heard_us"].get<std::uint64_t>() < 100'000);

    // The text forms answer too, and a wrong option is refused with the usage.
    type(a, "stats\r");
    CHECK(a.machine.out_.contains("stats: last epoch "));
    type(a, "status --xml\r");
    CHECK(a.machine.out_.contains("status: the only option is --json, for one line of JSON (not '--xml')\n"));
    type(b, "link json\r");
    CHECK(b.machine.out_.contains("link: the only option is --json, for one line of JSON (not 'json')\n"));
}

TEST_CASE("pair console: failover hands the guest to the backup at once; exactly one machine runs it") {
    SessionPairRig rig(32);
    auto& a = rig.add(SessionPairRig::config(Role::primary), 0, 1);
    auto& b = rig.add(SessionPairRig::config(Role::backup), 1, 2);
    type(a, "failover\r");  // nothing protected yet
    CHECK(a.machine.out_.contains("failover: refused: no backup holds a protected epoch yet"));
    CHECK(a.machine.running);
    REQUIRE(rig.run_until([&] { return SessionPairRig::is_protected(a, b); }, 20 * kSecond));
    rig.run_until([] { return false; }, kSecond / 2);
    type(b, "failover\r");
    CHECK(b.machine.out_.contains("failover: this machine is the backup: run failover on the primary"));
    CHECK(b.session.backup()->state() == tandem::engine::BackupReplicator::State::following);

    std::uint64_t asked_at = rig.clock.now;
    type(a, "failover\r");
    CHECK(a.machine.out_.contains("failover: stopping the guest here"));
    CHECK_FALSE(a.machine.running);
    REQUIRE(rig.run_until([&] { return b.session.took_over(); }, 5 * kSecond));
    // The notice, not silence: well within failover_ms (100 ms) plus the probes.
    CHECK(rig.clock.now - asked_at < 20'000'000);
    CHECK(b.machine.out_.contains("pair: taking over from epoch "));
    CHECK_FALSE(b.machine.out_.contains("pair: no answer from the primary"));
    REQUIRE(rig.run_until([&] { return b.guest_running && a.machine.out_.contains("failover: the backup has"); }, kSecond));
    auto status = ask_json(b, "status --json");
    CHECK(status["role"] == "primary");
    CHECK(status["guest"] == "running");
    REQUIRE(status["last_failover"].is_object());
    CHECK(status["last_failover"]["cause"] == "handover");
    CHECK(status["last_failover"]["epoch"].get<std::uint64_t>() >= 1);
    auto old = ask_json(a, "status --json");
    CHECK(old["phase"] == "handed_over");
    CHECK(old["guest"] == "stopped");
    CHECK(old["protection"] == "unprotected");

    // The old primary stays silent on the link and never runs the guest again.
    std::uint64_t sent = a.session.transport().stats().frames_sent;
    std::uint64_t ticks = a.machine.ticks;
    rig.run_until([] { return false; }, kSecond);
    CHECK(a.session.transport().stats().frames_sent == sent);
    CHECK(a.machine.ticks == ticks);
    CHECK_FALSE(a.guest_running);
    CHECK(b.machine.running);
    type(a, "failover\r");
    CHECK(a.machine.out_.contains("failover: the guest does not run here (nothing to hand over)"));
}

TEST_CASE("pair console: a failover whose notice is lost still ends with the backup, and only it, running the guest") {
    SessionPairRig rig(33);
    auto& a = rig.add(SessionPairRig::config(Role::primary), 0, 1);
    auto& b = rig.add(SessionPairRig::config(Role::backup), 1, 2);
    REQUIRE(rig.run_until([&] { return SessionPairRig::is_protected(a, b); }, 20 * kSecond));
    rig.link.set_partitioned(true);  // the notice never arrives
    type(a, "failover\r");
    CHECK_FALSE(a.machine.running);
    // Silent on the link and not answering the probe on the client network: the backup takes
    // over as at any failure of the primary; the old primary, without the notice's
    // acknowledgement, asks on the client network, hears the backup run the guest, stays silent.
    REQUIRE(rig.run_until([&] { return b.session.took_over(); }, 5 * kSecond));
    REQUIRE(rig.run_until([&] { return a.machine.out_.contains("failover: the backup runs the guest (it answered on the "
                                                               "client network"); },
                          kSecond));
    CHECK(a.machine.out_.contains("failover: the backup did not acknowledge the notice within 200 ms; asking on the "
                                  "client network whether it runs the guest"));
    CHECK(b.machine.out_.contains("pair: no answer from the primary"));
    CHECK(ask_json(b, "status --json")["last_failover"]["cause"] == "primary_silent");
    CHECK_FALSE(a.guest_running);
    CHECK_FALSE(a.machine.running);
}

TEST_CASE("single-machine status JSON (standalone, checkpoint_local) matches the schema, before and after a failover") {
    SessionPairRig rig(34);
    auto& a = rig.add(SessionPairRig::config(Role::primary), 0, 1);
    rig.run_until([] { return false; }, kSecond / 10);
    auto ask = [&](const tandem::sessions::SingleMachineStatus& s) {
        StringWriter out;
        tandem::sessions::write_single_status_json(out, a.machine, s);
        INFO(out.text_);
        REQUIRE(out.text_.back() == '\n');
        std::string line = out.text_.substr(0, out.text_.size() - 1);
        CHECK(schema_test::check_console_json(line) == "");
        return nlohmann::json::parse(line);
    };
    tandem::sessions::SingleMachineStatus standalone;
    auto v = ask(standalone);
    CHECK(v["mode"] == "standalone");
    CHECK(v["phase"] == "running");
    CHECK(v["epoch"]["length_ms"].is_null());
    CHECK(v["last_failover"].is_null());
    CHECK(v["uptime_ms"] == rig.clock.now / 1'000'000);
    tandem::sessions::SingleMachineStatus local;
    local.mode = "checkpoint_local";
    local.protection = "protected";
    local.has_length = local.has_current = local.has_committed = true;
    local.length_ms = 10, local.current = 12, local.committed = 11;
    v = ask(local);
    CHECK(v["epoch"]["current"] == 12);
    CHECK(v["epoch"]["committed"] == 11);
    local.failed_over = true;
    local.failed_over_at = 5'000'000;  // ticks: 5 ms at the rig's 1 GHz
    local.failover_epoch = 11;
    local.ended = true;
    v = ask(local);
    CHECK(v["last_failover"]["cause"] == "local");
    CHECK(v["last_failover"]["uptime_ms"] == 5);
    CHECK(v["guest"] == "ended");
}
