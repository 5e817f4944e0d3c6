// Loss detection and congestion control on their own (replication/link/congestion_control.hpp,
// rtt_estimator.hpp), driven with synthetic transmissions, acks, round trips and losses over a
// send window (send_window.hpp): no link, no clock, no frames. Figures follow RFC 6298 §2,
// RFC 5681 §3, RFC 6675 and RFC 8985 as the headers describe them.
#include <doctest/doctest.h>

#include <memory>

#include "replication/link/congestion_control.hpp"
#include "replication/link/link_time.hpp"

using namespace tandem::link;

namespace {

constexpr std::uint64_t kUs = 1'000;
constexpr std::uint64_t kMs = 1'000'000;
constexpr std::uint64_t kT0 = 1'000 * kMs;

TransportTiming timing() {
    TransportTiming t;
    t.initial_rto_ns = 20 * kMs;
    t.min_rto_ns = 1 * kMs;
    t.max_rto_ns = 200 * kMs;
    t.ack_delay_ns = 500 * kUs;
    return t;
}

// A congestion controller over a send window, driven as the transport drives it.
struct Rig {
    Rig() : window(std::make_unique<SendWindow>()) {
        config.window = 64;
        config.initial_cwnd = 10;
        config.ack_every = 4;
        config.timing = timing();
        window->reset();
        cc.reset(config);
    }

    // `n` new messages, each transmitted at `t` in the next frame.
    void send(std::uint64_t n, std::uint64_t t) {
        for (std::uint64_t i = 0; i < n; ++i) {
            const std::uint8_t b = 0;
            REQUIRE(window->accept(FrameType::data, 0, {&b, 1}));
            window->take_queued().record_transmission(seq++, t);
            cc.on_transmit(t);
        }
    }
    // Message m again, as the transport retransmits it.
    void resend(std::uint64_t m, std::uint64_t t) {
        SendSlot* s = window->outstanding(m);
        REQUIRE(s != nullptr);
        window->clear_lost(*s);
        s->record_transmission(seq++, t);
        cc.on_transmit(t);
    }
    // One ack at `t`, in the order Transport::process_acks() feeds it.
    void ack(std::uint64_t cumulative, std::uint64_t bitmap, std::uint64_t t) {
        AckSamples samples;
        auto result = window->apply_ack(cumulative, bitmap, [&](const SendSlot& s) {
            samples.add(s);
            cc.on_newly_delivered(*window, s, t);
        });
        REQUIRE(result != SendWindow::AckResult::invalid);
        if (samples.valid()) cc.on_rtt_samples(elapsed(t, samples.oldest_sent_ns), elapsed(t, samples.newest_sent_ns), t);
        if (result == SendWindow::AckResult::progress) cc.on_cumulative_ack(*window, t);
        if (samples.delivered != 0) cc.on_delivered(samples.delivered, t);
        cc.detect_losses(*window, t);
    }
    // Selective-ack bits for messages first..last above a cumulative ack.
    static std::uint64_t sacks(std::uint64_t cumulative, std::uint64_t first, std::uint64_t last) {
        std::uint64_t bits = 0;
        for (std::uint64_t m = first; m <= last; ++m) bits |= std::uint64_t{1} << (m - cumulative - 2);
        return bits;
    }
    bool lost(std::uint64_t m) const { return window->outstanding(m) != nullptr && window->outstanding(m)->lost; }

    TransportConfig config;
    TransportStats stats;
    CongestionControl cc{stats};
    std::unique_ptr<SendWindow> window;
    std::uint64_t seq = 1;
};

}  // namespace

TEST_CASE("rtt estimator: RFC 6298 section 2, clamped, with the initial RTO before any sample") {
    RttEstimator r;
    r.reset(timing());
    CHECK_FALSE(r.have_sample());
    CHECK(r.rto_ns() == 20 * kMs);
    r.sample(10 * kMs);  // SRTT = R, RTTVAR = R/2, RTO = SRTT + 4 RTTVAR
    CHECK(r.srtt_ns() == 10 * kMs);
    CHECK(r.rttvar_ns() == 5 * kMs);
    CHECK(r.rto_ns() == 30 * kMs);
    r.sample(20 * kMs);  // RTTVAR = 3/4 RTTVAR + 1/4 |SRTT - R|, then SRTT = 7/8 SRTT + 1/8 R
    CHECK(r.rttvar_ns() == 6'250 * kUs);
    CHECK(r.srtt_ns() == 11'250 * kUs);
    CHECK(r.rto_ns() == 36'250 * kUs);

    RttEstimator fast;
    fast.reset(timing());
    fast.sample(100 * kUs);  // 4 RTTVAR = 200 us is below G = min_rto / 4; the sum below min_rto
    CHECK(fast.rto_ns() == 1 * kMs);
    RttEstimator slow;
    slow.reset(timing());
    slow.sample(150 * kMs);
    CHECK(slow.rto_ns() == 200 * kMs);
}

TEST_CASE("rtt estimator: the backoff doubles to max_rto and is kept until a valid sample (5.5, 5.7)") {
    RttEstimator r;
    r.reset(timing());
    r.back_off();
    CHECK(r.rto_ns() == 40 * kMs);  // the initial RTO backs off too
    r.sample(10 * kMs);
    CHECK(r.backoff() == 0);
    CHECK(r.rto_ns() == 30 * kMs);
    r.back_off();
    CHECK(r.rto_ns() == 60 * kMs);
    r.back_off();
    CHECK(r.rto_ns() == 120 * kMs);
    for (int i = 0; i < 40; ++i) r.back_off();
    CHECK(r.backoff() == RttEstimator::kMaxBackoff);
    CHECK(r.rto_ns() == 200 * kMs);
    r.sample(10 * kMs);
    CHECK(r.backoff() == 0);
    CHECK(r.rto_ns() < 30 * kMs);
}

TEST_CASE("rtt estimator: a round trip longer than max_rto is learned up to half the silence timeout") {
    // A link delayed 400 ms each way, failover_ms=3000: max_rto (200 ms) alone would time out
    // every message, and Karn's rule would never take a sample to learn better.
    TransportTiming t = timing();
    t.silence_timeout_ns = 3000 * kMs;
    RttEstimator r;
    r.reset(t);
    CHECK(r.rto_cap() == 1500 * kMs);
    for (int i = 0; i < 8; ++i) r.back_off();
    CHECK(r.rto_ns() == 1500 * kMs);  // the backoff passes the round trip: a clean sample comes
    r.sample(800 * kMs);
    CHECK(r.backoff() == 0);
    CHECK(r.rto_ns() == 1500 * kMs);  // 800 + 4 * 400, capped
    for (int i = 0; i < 10; ++i) r.sample(800 * kMs);
    CHECK(r.rto_ns() > 800 * kMs);
    CHECK(r.rto_ns() < 1100 * kMs);
    // The default silence timeout (300 ms) leaves max_rto the cap.
    RttEstimator d;
    d.reset(timing());
    CHECK(d.rto_cap() == 200 * kMs);
}

TEST_CASE("rtt estimator: a round's least sample against the least ever shows a standing queue") {
    RttEstimator r;
    r.reset(timing());
    r.sample(10 * kMs);
    std::uint64_t t = kT0;
    auto round = [&](std::uint64_t rtt) {
        int ended = 0;
        for (std::uint32_t i = 0; i < RttEstimator::kRoundSamples; ++i) {
            t += 2 * kMs;  // 8 samples span 16 ms: more than one SRTT
            if (r.delay_sample(i == 3 ? rtt : rtt + 5 * kMs, t)) ++ended;  // jitter above the least
        }
        return ended;
    };
    CHECK(round(10 * kMs) == 1);
    CHECK(r.min_rtt_ns() == 10 * kMs);
    CHECK_FALSE(r.queueing());
    CHECK(round(25 * kMs) == 1);  // even the least of the round is 2.5 times the minimum
    CHECK(r.queueing());
    CHECK(r.min_rtt_ns() == 10 * kMs);
    CHECK(round(19 * kMs) == 1);  // one sample under twice the minimum: no standing queue
    CHECK_FALSE(r.queueing());
    // A round is at least one SRTT long, whatever the number of samples.
    RttEstimator q;
    q.reset(timing());
    q.sample(100 * kMs);
    for (std::uint64_t i = 1; i <= 20; ++i) CHECK_FALSE(q.delay_sample(100 * kMs, i * kMs));  // the round began at 0
    CHECK(q.delay_sample(0, 100 * kMs));
    CHECK(q.min_rtt_ns() == 1);  // a zero sample counts as 1 ns
}

TEST_CASE("ack samples: Karn's rule per ack, the oldest and the newest message sent once") {
    auto w = std::make_unique<SendWindow>();
    w->reset();
    const std::uint8_t b = 0;
    for (int i = 0; i < 3; ++i) REQUIRE(w->accept(FrameType::data, 0, {&b, 1}));
    w->take_queued().record_transmission(1, 300);
    w->take_queued().record_transmission(2, 100);
    SendSlot& third = w->take_queued();
    third.record_transmission(3, 200);
    AckSamples s;
    s.add(*w->outstanding(1));
    s.add(*w->outstanding(2));
    CHECK(s.valid());
    CHECK(s.oldest_sent_ns == 100);
    CHECK(s.newest_sent_ns == 300);
    third.record_transmission(4, 900);
    s.add(third);
    CHECK(s.delivered == 3);
    CHECK(s.retransmitted);
    CHECK_FALSE(s.valid());
}

TEST_CASE("congestion control: slow start, then one message per window; after a timeout from one") {
    Rig r;
    CHECK(r.cc.cwnd() == 10);
    CHECK(r.cc.ssthresh() == 64);
    r.send(10, kT0);
    REQUIRE(r.cc.due(*r.window, kT0 + 20 * kMs) == CongestionControl::Timer::retransmission);  // the initial RTO
    r.cc.on_retransmission_timeout(*r.window, kT0 + 20 * kMs);
    CHECK(r.stats.timeouts == 1);
    CHECK(r.cc.ssthresh() == 5);  // half the flight
    CHECK(r.cc.cwnd() == 1);
    r.cc.on_delivered(4, kT0 + 30 * kMs);  // slow start: one per message acked, to ssthresh
    CHECK(r.cc.cwnd() == 5);
    r.cc.on_delivered(4, kT0 + 31 * kMs);  // congestion avoidance: one per cwnd acked
    CHECK(r.cc.cwnd() == 5);
    r.cc.on_delivered(1, kT0 + 32 * kMs);
    CHECK(r.cc.cwnd() == 6);
    for (int i = 0; i < 1000; ++i) r.cc.on_delivered(64, kT0 + 40 * kMs);
    CHECK(r.cc.cwnd() == 64);  // never above the window
}

TEST_CASE("congestion control: the retransmission timeout presumes everything lost and backs off") {
    Rig r;
    r.send(10, kT0);
    r.ack(0, Rig::sacks(0, 4, 4), kT0 + 10 * kMs);  // message 4 arrived: a sample (RTO 30 ms)
    REQUIRE(r.cc.rto_ns() == 30 * kMs);
    CHECK(r.cc.due(*r.window, kT0 + 29 * kMs) != CongestionControl::Timer::retransmission);
    REQUIRE(r.cc.due(*r.window, kT0 + 30 * kMs) == CongestionControl::Timer::retransmission);
    REQUIRE(r.stats.lost_marked == 0);  // 1-3 were overtaken, but within the reordering window
    r.cc.on_retransmission_timeout(*r.window, kT0 + 30 * kMs);
    CHECK(r.window->lost_count() == 9);  // all but the sacked one
    CHECK(r.stats.lost_marked == 9);
    CHECK(r.window->outstanding(5)->lost_by_timeout);
    CHECK_FALSE(r.window->outstanding(4)->lost);
    CHECK(r.cc.cwnd() == 1);
    CHECK(r.cc.in_recovery());
    CHECK(r.cc.rto_ns() == 60 * kMs);
    const std::uint32_t ssthresh = r.cc.ssthresh();
    CHECK(r.cc.due(*r.window, kT0 + 89 * kMs) != CongestionControl::Timer::retransmission);
    REQUIRE(r.cc.due(*r.window, kT0 + 90 * kMs) == CongestionControl::Timer::retransmission);
    r.cc.on_retransmission_timeout(*r.window, kT0 + 90 * kMs);
    CHECK(r.cc.ssthresh() == ssthresh);  // not halved again within the same timeout recovery
    CHECK(r.cc.rto_ns() == 120 * kMs);
    CHECK(r.stats.timeouts == 2);
}

TEST_CASE("congestion control: a few losses found by acks are damage, resent without slowing down") {
    Rig r;
    r.send(10, kT0);
    r.ack(0, Rig::sacks(0, 3, 5), kT0 + 10 * kMs);  // 3, 4, 5 overtook 1 and 2: dupthresh reached
    CHECK(r.lost(1));
    CHECK(r.lost(2));
    CHECK_FALSE(r.lost(6));
    CHECK_FALSE(r.window->outstanding(1)->lost_by_timeout);
    CHECK(r.stats.lost_marked == 2);
    CHECK(r.stats.recoveries == 0);
    CHECK_FALSE(r.cc.in_recovery());
    CHECK(r.cc.cwnd() == 13);  // slow start went on: 10 + 3 delivered
    CHECK(r.cc.take_fast_retransmit());
    CHECK_FALSE(r.cc.take_fast_retransmit());
}

TEST_CASE("congestion control: a burst of losses halves the window once per window of data") {
    Rig r;
    r.send(20, kT0);
    r.ack(0, Rig::sacks(0, 8, 10), kT0 + 10 * kMs);  // 1-7 missing: more than an eighth of 20
    CHECK(r.window->lost_count() == 7);
    CHECK(r.stats.recoveries == 1);
    CHECK(r.cc.in_recovery());
    CHECK(r.cc.ssthresh() == 6);  // half of min(cwnd 13, flight 20)
    CHECK(r.cc.cwnd() == 6);
    CHECK(r.cc.take_fast_retransmit());
    r.ack(0, Rig::sacks(0, 8, 10) | Rig::sacks(0, 18, 20), kT0 + 11 * kMs);  // 11-17 missing too
    CHECK(r.window->lost_count() == 14);
    CHECK(r.stats.recoveries == 1);  // the same window of data: no second halving
    CHECK(r.cc.cwnd() == 6);         // and no growth while recovering
    CHECK(r.cc.take_fast_retransmit());
    r.ack(20, 0, kT0 + 12 * kMs);  // everything up to the recovery point
    CHECK_FALSE(r.cc.in_recovery());
    CHECK(r.window->lost_count() == 0);
    CHECK(r.cc.cwnd() == 7);  // congestion avoidance again
}

TEST_CASE("congestion control: with a standing queue slow start ends, growth stops, one loss halves") {
    Rig r;
    std::uint64_t t = kT0;
    for (int i = 0; i < 8; ++i) r.cc.on_rtt_samples(10 * kMs, 10 * kMs, t += 10 * kMs);
    for (int i = 0; i < 8; ++i) r.cc.on_rtt_samples(30 * kMs, 30 * kMs, t += 10 * kMs);
    REQUIRE(r.cc.rtt().queueing());
    CHECK(r.cc.ssthresh() == 10);  // slow start ended where it was
    r.cc.on_delivered(5, t);
    CHECK(r.cc.cwnd() == 10);  // at or above 2 ack_every: no growth while the queue stands
    r.send(10, t);
    r.ack(0, Rig::sacks(0, 3, 5), t + 30 * kMs);  // two lost: congestion now, not damage
    CHECK(r.stats.recoveries == 1);
    CHECK(r.cc.cwnd() == 5);
}

TEST_CASE("congestion control: RACK finds a loss once the reordering window has passed") {
    Rig r;
    r.send(2, kT0);
    r.ack(0, Rig::sacks(0, 2, 2), kT0 + 10 * kMs);  // 2 overtook 1; one sack is below dupthresh
    CHECK_FALSE(r.lost(1));
    // Due at its send time + the RTT of 2 (10 ms) + a quarter of the minimum RTT (2.5 ms).
    CHECK(r.cc.reordering_window() == 2'500 * kUs);
    CHECK(r.cc.due(*r.window, kT0 + 12'499 * kUs) == CongestionControl::Timer::none);
    REQUIRE(r.cc.due(*r.window, kT0 + 12'500 * kUs) == CongestionControl::Timer::rack);
    r.cc.detect_losses(*r.window, kT0 + 12'500 * kUs);
    CHECK(r.lost(1));
    CHECK(r.stats.recoveries == 0);
    CHECK(r.cc.take_fast_retransmit());
    // Resent and acked at once: the first copy arrived (spurious), and no RTT sample (Karn).
    r.resend(1, kT0 + 12'500 * kUs);
    const std::uint64_t srtt = r.cc.rtt().srtt_ns();
    r.ack(2, 0, kT0 + 13 * kMs);
    CHECK(r.stats.spurious_retransmissions == 1);
    CHECK(r.cc.rtt().srtt_ns() == srtt);
}

TEST_CASE("congestion control: reordering raises dupthresh and widens the reordering window") {
    Rig r;
    r.send(6, kT0);
    r.ack(0, Rig::sacks(0, 2, 6), kT0 + 10 * kMs);
    CHECK(r.lost(1));  // 5 overtook it
    r.ack(6, 0, kT0 + 15 * kMs);  // its only copy arrived, 5 ms after the newest: reordering
    CHECK(r.cc.dupthresh() == 6);  // one more than the messages that overtook it
    CHECK(r.cc.reordering_window() == 6'250 * kUs);  // 5/4 of the lateness seen
    CHECK(r.stats.spurious_retransmissions == 0);  // it was never resent
    r.send(8, kT0 + 20 * kMs);
    r.ack(6, Rig::sacks(6, 9, 13), kT0 + 30 * kMs);  // 5 messages overtook 7 and 8: below dupthresh 6
    CHECK_FALSE(r.lost(7));
}

TEST_CASE("congestion control: a tail loss probe after two round trips of silence, one per silence") {
    Rig r;
    r.send(1, kT0);
    r.ack(1, 0, kT0 + 10 * kMs);  // SRTT 10 ms, RTO 30 ms
    r.send(3, kT0 + 10 * kMs);     // then no ack at all
    CHECK(r.cc.probe_timeout() == 20'500 * kUs);  // 2 SRTT + the peer's ack delay
    CHECK(r.cc.due(*r.window, kT0 + 30'499 * kUs) == CongestionControl::Timer::none);
    REQUIRE(r.cc.due(*r.window, kT0 + 30'500 * kUs) == CongestionControl::Timer::probe);
    r.cc.on_probe();
    CHECK(r.stats.probes == 1);
    CHECK(r.cc.due(*r.window, kT0 + 35 * kMs) == CongestionControl::Timer::none);
    CHECK(r.cc.due(*r.window, kT0 + 40 * kMs) == CongestionControl::Timer::retransmission);  // the last resort
    // An ack that delivers ends the silence: the next one may be probed again.
    r.ack(2, 0, kT0 + 41 * kMs);
    CHECK(r.cc.due(*r.window, kT0 + 41 * kMs + r.cc.probe_timeout()) == CongestionControl::Timer::probe);
}
