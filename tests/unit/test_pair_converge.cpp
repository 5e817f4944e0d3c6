// Auto-converge (issue 15): a migration stops the guest only once its last copy fits
// migrate_downtime_ms, throttling a guest that dirties memory faster than the link carries it
// (guest_throttle.hpp, pair_converge.cpp). The throttle's arithmetic alone, then through the
// production sessions (session_rig.hpp): the guest's ticks counted by the rig while throttled,
// the guest moved exactly where it stopped, and the hardest step's "stopping it anyway".
#include <doctest/doctest.h>

#include "json_schema_check.hpp"
#include "replication/sessions/guest_throttle.hpp"
#include "session_rig.hpp"

using namespace session_test;
using tandem::Role;
using tandem::sessions::GuestThrottle;

TEST_CASE("guest throttle: 20 %, then 10 % more a step, 95 % at the most") {
    GuestThrottle t;
    CHECK_FALSE(t.active());
    CHECK_FALSE(t.pause_due(19));
    CHECK(t.resume_due(19));
    std::vector<std::uint32_t> steps;
    while (!t.at_max()) steps.push_back(t.step());
    CHECK(steps == std::vector<std::uint32_t>{20, 30, 40, 50, 60, 70, 80, 90, 95});
    CHECK(t.step() == 95);
    CHECK(t.run_ticks() == 1);
    t.reset();
    CHECK_FALSE(t.active());
}

TEST_CASE("guest throttle: the guest runs the first share of each 20-tick period") {
    GuestThrottle t;
    for (int i = 0; i < 4; ++i) t.step();  // 50 %
    REQUIRE(t.percent() == 50);
    CHECK(t.run_ticks() == 10);
    for (std::uint64_t tick = 1000; tick < 1040; ++tick) {
        bool in_run = tick % 20 < 10;
        CHECK(t.pause_due(tick) == !in_run);
        CHECK(t.resume_due(tick) == in_run);
    }
}

namespace {

tandem::Config target_config() {
    tandem::Config c = SessionPairRig::config(Role::backup);
    c.mode = tandem::Mode::migrate;
    return c;
}

// A link of 2 frames per ms with 2 ms propagation each way: with 200 pages written per tick an
// epoch's copy takes the target about 13 ms to hold (the last copy: 33 ms with the epoch of 20),
// idle about 3 ms.
struct ConvergeRig {
    explicit ConvergeRig(std::uint64_t seed, std::uint32_t downtime_ms) : rig(seed) {
        rig.link.set_bottleneck(0, test::Bottleneck{2, 256, 2'000'000});
        rig.link.set_bottleneck(1, test::Bottleneck{0, 256, 2'000'000});
        rig.writes_per_tick = 200;
        tandem::Config source = SessionPairRig::config(Role::primary);
        source.migrate_downtime_ms = downtime_ms;
        a = &rig.add(source, 0, 1);
        b = &rig.add(target_config(), 1, 2);
        REQUIRE(rig.run_until([&] { return SessionPairRig::is_protected(*a, *b); }, 20 * kSecond));
    }
    // The guest's ticks in the next half second of simulated time.
    std::uint64_t ticks_in_half_a_second() {
        std::uint64_t before = a->machine.ticks;
        rig.run_until([] { return false; }, kSecond / 2);
        return a->machine.ticks - before;
    }
    SessionPairRig rig;
    SessionPairRig::Node* a = nullptr;
    SessionPairRig::Node* b = nullptr;
};

}  // namespace

TEST_CASE("pair migrate: a guest that dirties too much for migrate_downtime_ms is throttled until its last copy fits") {
    ConvergeRig r(61, 30);
    SessionPairRig::Node& a = *r.a;
    SessionPairRig::Node& b = *r.b;
    std::uint64_t full_speed = r.ticks_in_half_a_second();
    CHECK(full_speed >= 490);
    type(a, "migrate\r");
    REQUIRE(r.rig.run_until([&] { return a.machine.out_.contains("throttling it to 80 % of its CPU"); }, kSecond));
    CHECK(a.machine.out_.contains("migrate: the guest dirties memory faster than the link carries it (the last copy "
                                  "would stop it about 33 ms, over migrate_downtime_ms=30): throttling it to 80 % of its "
                                  "CPU"));
    CHECK(a.machine.running);
    type(a, "status --json\r");
    CHECK(schema_test::check_console_json(last_json(a)) == "");
    CHECK(last_json(a).find("\"expected_stop_ms\":33,\"cpu_percent\":80,\"throttled_to_percent\":80}") != std::string::npos);
    // The guest gets its share, period by period: 16 ticks in 20, counted by the rig (the next
    // step can come only once two epochs captured after this one are acknowledged).
    std::uint64_t before = a.machine.ticks;
    r.rig.run_until([] { return false; }, 40'000'000);
    CHECK(a.machine.ticks - before >= 30);
    CHECK(a.machine.ticks - before <= 34);
    REQUIRE(r.rig.run_until([&] { return !a.machine.running && a.machine.out_.contains("stopping the guest for the last"); },
                            20 * kSecond));
    CHECK_FALSE(a.machine.out_.contains("stopping it anyway"));
    std::uint64_t tsc = a.machine.guest_tsc;
    std::vector<std::uint8_t> memory = a.machine.snapshot();
    REQUIRE(r.rig.run_until([&] { return b.guest_running; }, 5 * kSecond));
    CHECK(b.machine.guest_tsc == tsc);
    CHECK(b.machine.snapshot() == memory);
    REQUIRE(r.rig.run_until([&] { return a.machine.out_.contains("migrate: done: "); }, 5 * kSecond));
    CHECK(a.machine.out_.contains("% of its CPU at the most (auto-converge)"));
    // The last step's figure is the one the report gives.
    std::string said = a.machine.out_.text_;
    std::size_t last_step = said.rfind("throttling it to ");
    REQUIRE(last_step != std::string::npos);
    std::string share = said.substr(last_step + 17, said.find(' ', last_step + 17) - last_step - 17);
    CHECK(said.find("the guest throttled to " + share + " % of its CPU at the most") != std::string::npos);
    CHECK(share != "80");  // more than one step was needed
    // Progress at once, then once a second until the stop: the epoch, the guest's dirty pages, the
    // link's pace, the estimate against the budget (none yet: the protected epochs are still to be
    // judged) and the guest's share.
    CHECK(said.find("migrate: 0 s since 'migrate': epoch ") != std::string::npos);
    CHECK(said.find(" pre-copy rounds), ") != std::string::npos);
    CHECK(said.find(" dirty pages in the last, ") != std::string::npos);
    CHECK(said.find("/s on the link; the last copy not estimated yet, the guest at 100 % of its CPU") != std::string::npos);
}

TEST_CASE("pair migrate: a budget out of reach: throttled step by step to 5 %, then stopped anyway; a guest that fits is not throttled") {
    ConvergeRig r(62, 1);  // even an idle epoch takes the target about 3 ms to hold
    SessionPairRig::Node& a = *r.a;
    type(a, "migrate\r");
    REQUIRE(r.rig.run_until([&] { return a.machine.out_.contains("migrate: done: "); }, 30 * kSecond));
    for (const char* share : {"80", "70", "60", "50", "40", "30", "20", "10", "5"}) {
        CHECK(a.machine.out_.contains(std::string("throttling it to ") + share + " % of its CPU"));
    }
    CHECK(a.machine.out_.contains("with the guest throttled to 5 % of its CPU, over migrate_downtime_ms=1: stopping it "
                                  "anyway"));
    CHECK(a.machine.out_.contains("the guest throttled to 5 % of its CPU at the most (auto-converge)"));
    CHECK(r.b->guest_running);

    ConvergeRig easy(63, 50);
    easy.rig.run_until([] { return false; }, kSecond / 2);  // past the first protected epochs' long copies
    type(*easy.a, "migrate\r");
    REQUIRE(easy.rig.run_until([&] { return easy.a->machine.out_.contains("migrate: done: "); }, 5 * kSecond));
    CHECK(easy.a->machine.out_.contains("rounds, no throttling"));
    CHECK_FALSE(easy.a->machine.out_.contains("throttling it to"));
}
