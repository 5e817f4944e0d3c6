// The transport on a rate-limited, queueing path (DESIGN.md §4, §9): the emulators' link hands
// each side at most one frame per millisecond and queues the rest in a finite buffer, real
// hardware is fast with little delay. Congestion control must fill the first without flooding it
// (no retransmission storms, no queue overflow) and get out of the way on the second. Every run
// is the link self-test (linktest.hpp) over the simulated link with the machine's default timing;
// TANDEM_TEST_VERBOSE=1 prints the figures.
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "crypto_test_util.hpp"
#include "link_pair.hpp"

using namespace tandem;
using namespace tandem::link;
using test::LinkTestPair;

namespace {

constexpr std::uint64_t kMs = 1'000'000;
constexpr std::uint64_t kSecond = 1'000'000'000;
constexpr std::uint64_t kMiB = 1u << 20;

// Bochs' socket backend: one frame per millisecond into the guest NIC, a socket buffer of about
// a hundred full frames, a hub in between.
test::Bottleneck bochs_like() {
    test::Bottleneck b;
    b.frames_per_ms = 1;
    b.queue_frames = 100;
    b.propagation_ns = 100'000;
    return b;
}

test::LinkFaults no_faults() {
    test::LinkFaults f;
    f.min_delay_ns = 0;
    return f;
}

std::string figures(const LinkTestPair& p) {
    std::ostringstream o;
    for (int s = 0; s < 2; ++s) {
        const TransportStats& st = p.transport[s]->stats();
        const test::SimLinkStats& ls = p.link.stats(s);
        o << (s == 0 ? "primary" : "backup") << ": goodput to it " << (p.received_at[s] ? p.goodput(s) / 1e6 : 0)
          << " MB/s in " << (p.received_at[s] ? p.transfer_seconds(s) : 0) << " s; frames sent " << st.frames_sent
          << ", messages " << st.messages_sent << ", retransmitted " << st.retransmissions << " (fast "
          << st.fast_retransmissions << ", timeouts " << st.timeouts << ", recoveries " << st.recoveries
          << "), duplicates " << st.duplicates << ", acks " << st.acks_sent << ", nacks " << st.nacks_sent
          << ", heartbeats " << st.heartbeats_sent << "; srtt " << p.transport[s]->srtt_ns() / 1000 << " us, min "
          << p.transport[s]->min_rtt_ns() / 1000 << " us, rto " << p.transport[s]->rto_ns() / 1000 << " us, cwnd "
          << p.transport[s]->cwnd() << "; its link: lost " << ls.lost << ", queue drops " << ls.queue_drops
          << ", max queue " << ls.max_queue << ", corrupted " << ls.corrupted << ", held back " << ls.reordered << "\n";
    }
    return o.str();
}

void print_if_verbose(const char* name, const LinkTestPair& p) {
    if (std::getenv("TANDEM_TEST_VERBOSE") != nullptr) MESSAGE((std::string(name) + "\n" + figures(p)));
}

// Both sides verified the other's stream (every byte, in order, once) and the transports agree.
void check_verified(const LinkTestPair& p) {
    for (int s = 0; s < 2; ++s) {
        CAPTURE(s);
        CHECK(p.test[s]->verified());
        CHECK(p.test[s]->mismatches() == 0);
        CHECK(p.transport[s]->stats().messages_delivered == p.transport[1 - s]->stats().messages_sent);
        CHECK(p.transport[s]->stats().protocol_errors == 0);
    }
}

}  // namespace

TEST_CASE("transport congestion: Bochs-like bottleneck (1 frame/ms, 100-frame queue), 2 MiB each way, "
          "few retransmissions and at least 70% of the bottleneck") {
    std::uint64_t seed = test::test_seed(1000);
    INFO("seed " << seed << " (rerun with TANDEM_TEST_SEED=" << seed << ")");
    LinkTestPair p(seed, 2 * kMiB);
    p.link.set_faults(no_faults());
    p.link.set_bottleneck(bochs_like());
    REQUIRE(p.start().ok());
    bool done = p.run(60 * kSecond);
    print_if_verbose("Bochs-like, no faults", p);
    INFO(figures(p));
    REQUIRE(done);
    check_verified(p);
    for (int s = 0; s < 2; ++s) {
        CAPTURE(s);
        const TransportStats& st = p.transport[s]->stats();
        CHECK(st.retransmissions * 10 < st.messages_sent);
        CHECK(p.goodput(s) >= 0.7 * p.bottleneck_rate(s));
        CHECK(p.link.stats(s).max_queue <= 100);
    }
}

TEST_CASE("transport congestion: Bochs-like bottleneck with 5% loss, reordering and 1% corruption, 2 MiB each "
          "way exactly once, in order, at least 40% of the bottleneck") {
    std::uint64_t seed = test::test_seed(2000);
    INFO("seed " << seed << " (rerun with TANDEM_TEST_SEED=" << seed << ")");
    LinkTestPair p(seed, 2 * kMiB);
    test::LinkFaults f = no_faults();
    f.loss = 0.05;
    f.corrupt = 0.01;
    f.reorder = 0.05;  // as the test hub does it: some frames held back, up to 50 ms
    f.reorder_max_ns = 50 * kMs;
    f.jitter_ns = 300'000;
    p.link.set_faults(f);
    p.link.set_bottleneck(bochs_like());
    REQUIRE(p.start().ok());
    bool done = p.run(120 * kSecond);
    print_if_verbose("Bochs-like, 5% loss, reordering, 1% corruption", p);
    INFO(figures(p));
    REQUIRE(done);
    check_verified(p);
    for (int s = 0; s < 2; ++s) {
        CAPTURE(s);
        const TransportStats& st = p.transport[s]->stats();
        CHECK(p.goodput(s) >= 0.4 * p.bottleneck_rate(s));
        CHECK(st.retransmissions > 0);
        // Every corrupted frame that arrived was rejected, and nothing else was.
        CHECK(p.link.stats(1 - s).corrupted > 0);
        CHECK(st.rejected_bad_tag + st.rejected_malformed + st.rejected_session + st.rejected_source + st.ignored +
                  st.rejected_replay ==
              p.link.stats(1 - s).corrupted);
    }
}

TEST_CASE("transport congestion: a fast path (100 frames/ms, 1 ms each way) is limited by the window, not by "
          "congestion control") {
    std::uint64_t seed = test::test_seed(3000);
    INFO("seed " << seed << " (rerun with TANDEM_TEST_SEED=" << seed << ")");
    LinkTestPair p(seed, 2 * kMiB);
    test::Bottleneck b;
    b.frames_per_ms = 100;
    b.queue_frames = 1000;
    b.propagation_ns = 1 * kMs;
    p.link.set_faults(no_faults());
    p.link.set_bottleneck(b);
    REQUIRE(p.start().ok());
    bool done = p.run(60 * kSecond);
    print_if_verbose("fast path", p);
    INFO(figures(p));
    REQUIRE(done);
    check_verified(p);
    // 64 full messages per round trip of at least 2 ms.
    const double window_limit = 64.0 * static_cast<double>(p.transport[0]->max_message_size()) / 0.002;
    for (int s = 0; s < 2; ++s) {
        CAPTURE(s);
        CHECK(p.transport[s]->stats().retransmissions == 0);
        CHECK(p.transport[s]->cwnd() == 64);
        CHECK(p.goodput(s) >= 0.8 * window_limit);
    }
}

TEST_CASE("transport congestion: a shallow queue (8 frames) overflows; the window backs off and the transfer "
          "still fills most of the bottleneck") {
    std::uint64_t seed = test::test_seed(4000);
    INFO("seed " << seed << " (rerun with TANDEM_TEST_SEED=" << seed << ")");
    LinkTestPair p(seed, 2 * kMiB);
    test::Bottleneck b = bochs_like();
    b.queue_frames = 8;
    p.link.set_faults(no_faults());
    p.link.set_bottleneck(b);
    REQUIRE(p.start().ok());
    bool done = p.run(60 * kSecond);
    print_if_verbose("shallow queue", p);
    INFO(figures(p));
    REQUIRE(done);
    check_verified(p);
    for (int s = 0; s < 2; ++s) {
        CAPTURE(s);
        CHECK(p.goodput(s) >= 0.6 * p.bottleneck_rate(s));
    }
}

TEST_CASE("transport congestion: a fast path with 1% loss is damage, not congestion: the window stays open") {
    std::uint64_t seed = test::test_seed(5000);
    INFO("seed " << seed << " (rerun with TANDEM_TEST_SEED=" << seed << ")");
    LinkTestPair p(seed, 2 * kMiB);
    test::Bottleneck b;
    b.frames_per_ms = 100;
    b.queue_frames = 1000;
    b.propagation_ns = 1 * kMs;
    test::LinkFaults f = no_faults();
    f.loss = 0.01;
    p.link.set_faults(f);
    p.link.set_bottleneck(b);
    REQUIRE(p.start().ok());
    bool done = p.run(60 * kSecond);
    print_if_verbose("fast path, 1% loss", p);
    INFO(figures(p));
    REQUIRE(done);
    check_verified(p);
    // Each loss still stalls the 64-message window (the receiver holds no more) for about two
    // round trips; what must not happen is a congestion window halved for every lost frame.
    const double window_limit = 64.0 * static_cast<double>(p.transport[0]->max_message_size()) / 0.002;
    for (int s = 0; s < 2; ++s) {
        CAPTURE(s);
        CHECK(p.transport[s]->stats().recoveries == 0);
        CHECK(p.goodput(s) >= 0.3 * window_limit);
    }
}

TEST_CASE("transport congestion: a queue far deeper than the initial RTO (64 frames at once into 1 frame/ms) "
          "costs a few spurious retransmissions, not a storm; the RTO learns the queue") {
    std::uint64_t seed = test::test_seed(6000);
    INFO("seed " << seed << " (rerun with TANDEM_TEST_SEED=" << seed << ")");
    test::LinkPair p(seed);
    for (auto& c : p.config) {
        c.initial_cwnd = 64;  // the whole window at once: what the transport did before congestion control
        c.timing.initial_rto_ns = 5 * kMs;
        c.timing.max_rto_ns = 200 * kMs;
    }
    p.link.set_faults(no_faults());
    p.link.set_bottleneck(bochs_like());
    p.target[0] = 3000;  // one way: the backup only acks
    REQUIRE(p.start().ok());
    REQUIRE(p.run_until([&] { return p.all_delivered(); }, 60 * kSecond));
    INFO(test::report_of(*p.transport[0]) << test::report_of(*p.transport[1]));
    CHECK(p.inbox[0].failure.empty());
    CHECK(p.inbox[1].failure.empty());
    const TransportStats& st = p.transport[0]->stats();
    CHECK(st.messages_sent == 3000);
    CHECK(st.retransmissions * 20 < st.messages_sent);  // under 5%
    CHECK(st.timeouts <= 3);
    CHECK(p.transport[0]->srtt_ns() > 5 * kMs);  // it got valid samples of the queued path
    CHECK(p.transport[0]->rto_ns() > p.transport[0]->srtt_ns());
    // Acks back over the 1 frame/ms path: about one per ack_every messages, not one per message.
    CHECK(p.transport[1]->stats().acks_sent * 3 < st.messages_sent);
    CHECK(p.link.stats(0).queue_drops == 0);
}

TEST_CASE("transport congestion: a backed-off RTO is kept until a valid RTT sample (RFC 6298 5.7)") {
    std::uint64_t seed = test::test_seed(7000);
    INFO("seed " << seed);
    test::LinkPair p(seed);
    p.target[0] = 20;
    REQUIRE(p.start().ok());
    REQUIRE(p.run_until([&] { return p.all_delivered(); }, kSecond));
    Transport& a = *p.transport[0];
    const std::uint64_t base = a.rto_ns();
    REQUIRE(base > 0);
    // A message into a partition: the timer expires and backs off.
    p.link.set_partitioned(true);
    p.target[0] = 21;
    REQUIRE(p.run_until([&] { return a.stats().timeouts >= 2; }, kSecond));
    const std::uint64_t backed_off = a.rto_ns();
    CHECK(backed_off >= 4 * base);
    // Healed: the retransmission is acknowledged, but which copy arrived is unknown (Karn): no
    // sample, the backoff stays.
    p.link.set_partitioned(false);
    REQUIRE(p.run_until([&] { return p.all_delivered(); }, kSecond));
    const std::uint64_t kept = a.rto_ns();
    CHECK(kept >= backed_off);
    // A message sent once and acknowledged is a valid sample: the backoff goes.
    p.target[0] = 22;
    REQUIRE(p.run_until([&] { return p.all_delivered(); }, kSecond));
    CHECK(a.rto_ns() < kept);
    CHECK(a.rto_ns() <= 2 * base);
    CHECK(p.inbox[1].failure.empty());
}

TEST_CASE("transport congestion: the report shows the round trip, the congestion window and the queue state") {
    test::LinkPair p(8000);
    p.target[0] = p.target[1] = 100;
    REQUIRE(p.start().ok());
    REQUIRE(p.run_until([&] { return p.all_delivered(); }, 10 * kSecond));
    std::string r = test::report_of(*p.transport[0]);
    CHECK(r.find("link: rtt ") != std::string::npos);
    CHECK(r.find("congestion window ") != std::string::npos);
    CHECK(r.find("no queue") != std::string::npos);
    CHECK(r.find("probes ") != std::string::npos);
}
