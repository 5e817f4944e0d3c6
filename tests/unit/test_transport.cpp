// The replication transport over a simulated lossy link (DESIGN.md §4, §9): exactly-once,
// in-order delivery under loss, duplication, reordering and corruption; recovery after a
// partition; rejection of forged, replayed and corrupted frames; heartbeats and the silence
// detector. Every randomised test prints its seed on failure (TANDEM_TEST_SEED reruns one).
#include <doctest/doctest.h>

#include "crypto_test_util.hpp"
#include "link_pair.hpp"
#include "replication/link/frame_seal.hpp"

using namespace tandem;
using namespace tandem::link;
using test::LinkPair;

namespace {

constexpr std::uint64_t kMs = 1'000'000;
constexpr std::uint64_t kSecond = 1'000'000'000;

std::string failures(const LinkPair& p) { return p.inbox[0].failure + p.inbox[1].failure; }

}  // namespace

TEST_CASE("transport: clean link, handshake and bulk transfer both ways") {
    std::uint64_t seed = test::test_seed(11);
    INFO("seed " << seed << " (rerun with TANDEM_TEST_SEED=" << seed << ")");
    LinkPair p(seed);
    p.target[0] = p.target[1] = 3000;
    REQUIRE(p.start().ok());
    REQUIRE(p.run_until([&] { return p.both_established(); }, kSecond));
    CHECK(p.transport[0]->peer_session() == p.config[1].session_id);
    CHECK(p.transport[1]->peer_session() == p.config[0].session_id);
    CHECK(p.transport[0]->link_mtu() == 1500);
    CHECK(p.transport[0]->max_message_size() == 1428);
    REQUIRE(p.run_until([&] { return p.all_delivered(); }, 20 * kSecond));
    CHECK(failures(p).empty());
    for (int s = 0; s < 2; ++s) {
        CAPTURE(s);
        const TransportStats& st = p.transport[s]->stats();
        CHECK(st.messages_sent == 3000);
        CHECK(st.messages_delivered == 3000);
        CHECK(st.retransmissions == 0);
        CHECK(st.duplicates == 0);
        CHECK(test::rejected_total(st) == 0);
        CHECK(st.protocol_errors == 0);
    }
}

TEST_CASE("transport: 20000 messages each way exactly once, in order, over 10% loss, 10% duplication, "
          "reordering and 1% corruption") {
    std::uint64_t seed = test::test_seed(20260101);
    INFO("seed " << seed << " (rerun with TANDEM_TEST_SEED=" << seed << ")");
    LinkPair p(seed);
    test::LinkFaults faults;
    faults.loss = 0.10;
    faults.duplicate = 0.10;
    faults.corrupt = 0.01;
    faults.min_delay_ns = 50'000;
    faults.jitter_ns = 400'000;  // frames overtake each other by up to 0.4 ms
    p.link.set_faults(faults);
    p.target[0] = p.target[1] = 20000;
    REQUIRE(p.start().ok());
    bool done = p.run_until([&] { return p.all_delivered() || !failures(p).empty(); }, 600 * kSecond);
    INFO(test::report_of(*p.transport[0]) << test::report_of(*p.transport[1]));
    CHECK(failures(p).empty());
    REQUIRE(done);
    if (std::getenv("TANDEM_TEST_VERBOSE") != nullptr) {
        MESSAGE("simulated time " << (p.clock.now / kMs) << " ms\n" << test::report_of(*p.transport[0])
                                  << test::report_of(*p.transport[1]) << "link faults to backup: lost "
                                  << p.link.stats(0).lost << " duplicated " << p.link.stats(0).duplicated
                                  << " corrupted " << p.link.stats(0).corrupted << " of " << p.link.stats(0).sent);
    }
    CHECK(p.inbox[0].received == 20000);
    CHECK(p.inbox[1].received == 20000);
    for (int s = 0; s < 2; ++s) {
        CAPTURE(s);
        const TransportStats& st = p.transport[s]->stats();
        const test::SimLinkStats& into = p.link.stats(1 - s);  // what the link did to frames for side s
        CHECK(st.messages_delivered == 20000);
        CHECK(st.retransmissions > 0);
        CHECK(st.fast_retransmissions > 0);
        CHECK(st.duplicates > 0);
        CHECK(st.rejected_replay > 0);  // duplicated frames repeat a sequence number
        CHECK(into.corrupted > 0);
        // Every corrupted frame that arrived was rejected, and nothing else was (except replays).
        CHECK(st.rejected_bad_tag + st.rejected_malformed + st.rejected_session + st.rejected_source + st.ignored ==
              into.corrupted);
        CHECK(st.protocol_errors == 0);
    }
}

TEST_CASE("transport: jumbo frames when both sides allow them, the smaller MTU otherwise") {
    std::uint64_t seed = test::test_seed(9000);
    INFO("seed " << seed);
    {
        LinkPair p(seed);
        p.config[0].mtu = 9000;
        p.config[1].mtu = 9000;
        p.target[0] = p.target[1] = 200;
        test::LinkFaults f;
        f.loss = 0.05;
        f.jitter_ns = 100'000;
        p.link.set_faults(f);
        REQUIRE(p.start().ok());
        REQUIRE(p.run_until([&] { return p.all_delivered(); }, 60 * kSecond));
        CHECK(failures(p).empty());
        CHECK(p.transport[0]->link_mtu() == 9000);
        CHECK(p.transport[1]->max_message_size() == 8928);
    }
    {
        LinkPair p(seed);
        p.config[0].mtu = 9000;
        REQUIRE(p.start().ok());
        REQUIRE(p.run_until([&] { return p.both_established(); }, kSecond));
        CHECK(p.transport[0]->link_mtu() == 1500);
        CHECK(p.transport[1]->link_mtu() == 1500);
        std::vector<std::uint8_t> big(1429);
        CHECK_FALSE(p.transport[0]->send(FrameType::data, 0, big).ok());
    }
    {
        // One side over UDP/IPv4 (1500 less the 42-byte envelope): both use its MTU, and every
        // message is delivered in frames that fit it.
        LinkPair p(seed);
        p.config[1].mtu = 1458;
        p.target[0] = p.target[1] = 100;
        REQUIRE(p.start().ok());
        REQUIRE(p.run_until([&] { return p.all_delivered(); }, 60 * kSecond));
        CHECK(failures(p).empty());
        CHECK(p.transport[0]->link_mtu() == 1458);
        CHECK(p.transport[1]->link_mtu() == 1458);
        CHECK(p.transport[0]->max_message_size() == 1386);
        std::vector<std::uint8_t> big(1387);
        CHECK_FALSE(p.transport[0]->send(FrameType::data, 0, big).ok());
    }
}

TEST_CASE("transport: recovers after a full partition heals") {
    std::uint64_t seed = test::test_seed(424242);
    INFO("seed " << seed << " (rerun with TANDEM_TEST_SEED=" << seed << ")");
    LinkPair p(seed);
    test::LinkFaults f;
    f.loss = 0.05;
    f.jitter_ns = 200'000;
    p.link.set_faults(f);
    p.target[0] = p.target[1] = 4000;
    REQUIRE(p.start().ok());
    REQUIRE(p.run_until([&] { return p.inbox[0].received > 1000 && p.inbox[1].received > 1000; }, 60 * kSecond));
    // Cut the link for 2 s: longer than the silence timeout and many times the largest RTO.
    p.link.set_partitioned(true);
    std::uint64_t cut_at = p.clock.now;
    p.run_for(10 * kMs);  // frames already on the wire still arrive
    std::uint64_t before[2] = {p.inbox[0].received, p.inbox[1].received};
    p.run_for(2 * kSecond);
    CHECK(p.inbox[0].received == before[0]);
    CHECK(p.inbox[1].received == before[1]);
    for (int s = 0; s < 2; ++s) {
        CAPTURE(s);
        CHECK(p.transport[s]->peer_silent());
        CHECK(p.transport[s]->last_heard_ns() <= cut_at + 10 * kMs);
        CHECK(p.transport[s]->stats().timeouts > 0);
        std::string report = test::report_of(*p.transport[s]);
        CHECK(report.find("peer silent since " + std::to_string(p.transport[s]->last_heard_ns() / kMs) + " ms") !=
              std::string::npos);
    }
    p.link.set_partitioned(false);
    std::uint64_t healed_at = p.clock.now;
    REQUIRE(p.run_until([&] { return p.all_delivered(); }, 60 * kSecond));
    CHECK(failures(p).empty());
    // Backoff is capped at max_rto (50 ms here), so the link resumes quickly after healing.
    CHECK(p.transport[0]->last_heard_ns() - healed_at < 200 * kMs);
    CHECK_FALSE(p.transport[0]->peer_silent());
    CHECK_FALSE(p.transport[1]->peer_silent());
}

TEST_CASE("transport: forged frames (wrong key) are rejected and counted, never delivered") {
    std::uint64_t seed = test::test_seed(777);
    INFO("seed " << seed);
    LinkPair p(seed);
    p.link.set_capture(0, true);
    p.target[0] = 20;
    REQUIRE(p.start().ok());
    REQUIRE(p.run_until([&] { return p.all_delivered(); }, 10 * kSecond));
    Transport& b = *p.transport[1];
    const std::uint64_t delivered = b.stats().messages_delivered;
    const std::uint64_t bad_tag = b.stats().rejected_bad_tag;

    // A forger who knows every header field (they are in the clear) but not the key.
    crypto::Key wrong = derive_traffic_key(test::secret_for(0x41).master, p.config[0].session_id, p.config[1].session_id);
    int forged = 0;
    for (std::uint64_t k = 0; k < 10; ++k) {
        FrameHeader h;
        h.type = FrameType::data;
        h.session = p.config[0].session_id;
        h.seq = 100000 + k;
        h.msg = 21 + k;  // the next messages B expects
        h.ack = 0;
        std::vector<std::uint8_t> frame(kMaxFrameSize);
        auto payload = test::make_payload(0, 20 + k, 1428);
        auto size = seal_frame(frame, EthernetHeader{p.config[1].local_mac, p.config[0].local_mac, kEtherType}, h,
                               payload, &wrong);
        REQUIRE(size.ok());
        frame.resize(*size);
        p.link.inject(1, frame);
        ++forged;
        // The same frame in the clear (checksummed) is refused on an encrypted link.
        std::vector<std::uint8_t> plain(kMaxFrameSize);
        auto psize = seal_frame(plain, EthernetHeader{p.config[1].local_mac, p.config[0].local_mac, kEtherType}, h,
                                payload, nullptr);
        plain.resize(*psize);
        p.link.inject(1, plain);
    }
    CHECK(b.stats().rejected_bad_tag == bad_tag + static_cast<std::uint64_t>(forged));
    CHECK(b.stats().rejected_malformed == 10);
    CHECK(b.stats().messages_delivered == delivered);
    // A frame claiming another source MAC is refused before any crypto.
    std::vector<std::uint8_t> stolen = p.link.captured(0).back();
    stolen[11] ^= 0x40;
    p.link.inject(1, stolen);
    CHECK(b.stats().rejected_source == 1);
    p.run_for(50 * kMs);
    CHECK(b.established());
    CHECK(failures(p).empty());
}

TEST_CASE("transport: replayed frames are rejected and counted") {
    std::uint64_t seed = test::test_seed(31337);
    INFO("seed " << seed);
    LinkPair p(seed);
    p.link.set_capture(0, true);
    p.target[0] = 300;
    p.target[1] = 50;
    REQUIRE(p.start().ok());
    REQUIRE(p.run_until([&] { return p.all_delivered(); }, 10 * kSecond));
    p.run_for(20 * kMs);
    Transport& b = *p.transport[1];
    const TransportStats before = b.stats();
    // Re-inject everything A ever sent, long after: every sequenced frame is a replay.
    std::uint64_t sequenced = 0;
    for (const auto& frame : p.link.captured(0)) {
        FrameDecode d = decode_frame(frame);
        REQUIRE(d.ok());
        const bool handshake = d.frame.header.type == FrameType::hello || d.frame.header.type == FrameType::hello_ack;
        if (!handshake) ++sequenced;  // handshake frames are answered again, not admitted
        p.link.inject(1, frame);
    }
    CHECK(sequenced > 300);
    CHECK(b.stats().rejected_replay == before.rejected_replay + sequenced);
    CHECK(b.stats().messages_delivered == before.messages_delivered);
    CHECK(b.stats().duplicates == before.duplicates);
    CHECK(b.stats().rejected_bad_tag == before.rejected_bad_tag);
    CHECK(p.inbox[1].received == 300);
    CHECK(failures(p).empty());

    // A restarted peer (new sessions on both sides, same key) rejects the old session's frames:
    // they are under another traffic key and name another session.
    LinkPair q(seed + 1);
    q.secret[0] = p.secret[0];
    q.secret[1] = p.secret[1];
    REQUIRE(q.start().ok());
    REQUIRE(q.run_until([&] { return q.both_established(); }, kSecond));
    for (const auto& frame : p.link.captured(0)) q.link.inject(1, frame);
    const TransportStats& qs = q.transport[1]->stats();
    CHECK(qs.messages_delivered == 0);
    CHECK(qs.rejected_session + qs.rejected_bad_tag > 0);  // another session, or not under its keys with us
    CHECK(qs.rejected_replay == 0);
    CHECK(qs.peer_restarts == 0);  // the old session's HELLO proved nothing
    CHECK(q.transport[1]->peer_session() == q.config[0].session_id);
}

TEST_CASE("transport: corrupted frames are rejected and counted") {
    std::uint64_t seed = test::test_seed(4711);
    INFO("seed " << seed);
    LinkPair p(seed);
    p.link.set_capture(0, true);
    p.target[0] = 100;
    REQUIRE(p.start().ok());
    REQUIRE(p.run_until([&] { return p.all_delivered(); }, 10 * kSecond));
    Transport& b = *p.transport[1];
    const std::uint64_t before = test::rejected_total(b.stats());
    std::mt19937_64 rng(seed);
    std::uint64_t injected = 0;
    for (const auto& original : p.link.captured(0)) {
        std::vector<std::uint8_t> frame = original;
        std::size_t bit = rng() % (frame.size() * 8);
        frame[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
        p.link.inject(1, frame);
        ++injected;
    }
    // Truncated and padded frames too.
    std::vector<std::uint8_t> cut = p.link.captured(0).back();
    cut.pop_back();
    p.link.inject(1, cut);
    cut.push_back(0);
    cut.push_back(0);
    p.link.inject(1, cut);
    injected += 2;
    CHECK(test::rejected_total(b.stats()) - before == injected);
    CHECK(b.stats().messages_delivered == 100);
    CHECK(failures(p).empty());
}

TEST_CASE("transport: heartbeats when idle, and the peer-silence detector") {
    std::uint64_t seed = test::test_seed(5);
    INFO("seed " << seed);
    LinkPair p(seed);
    REQUIRE(p.start().ok());
    REQUIRE(p.run_until([&] { return p.both_established(); }, kSecond));
    const std::uint64_t hb0 = p.transport[0]->stats().heartbeats_sent;
    p.run_for(200 * kMs);
    // Idle: a heartbeat every 5 ms keeps both sides "heard".
    std::uint64_t heartbeats = p.transport[0]->stats().heartbeats_sent - hb0;
    CHECK(heartbeats >= 35);
    CHECK(heartbeats <= 41);
    CHECK_FALSE(p.transport[0]->peer_silent());
    CHECK_FALSE(p.transport[1]->peer_silent());
    CHECK(p.clock.now - p.transport[1]->last_heard_ns() <= 6 * kMs);

    // The primary's frames stop reaching the backup (one direction only).
    p.link.set_filter(0, [](std::span<const std::uint8_t>) { return false; });
    std::uint64_t silent_from = p.transport[1]->last_heard_ns();
    p.run_for(290 * kMs);
    CHECK_FALSE(p.transport[1]->peer_silent());
    p.run_for(20 * kMs);
    CHECK(p.transport[1]->peer_silent());
    CHECK(p.transport[1]->last_heard_ns() == silent_from);
    CHECK_FALSE(p.transport[0]->peer_silent());  // the other direction still works
    std::string report = test::report_of(*p.transport[1]);
    CHECK(report.find("link: peer silent since " + std::to_string(silent_from / kMs) + " ms (for 3") != std::string::npos);

    p.link.set_filter(0, nullptr);
    p.run_for(10 * kMs);
    CHECK_FALSE(p.transport[1]->peer_silent());
    CHECK(test::report_of(*p.transport[1]).find("peer last heard") != std::string::npos);
}

TEST_CASE("transport: send() refuses what it cannot do") {
    LinkPair p(1);
    std::vector<std::uint8_t> small(10);
    CHECK_FALSE(p.transport[0]->send(FrameType::data, 0, small).ok());  // not started
    REQUIRE(p.start().ok());
    auto st = p.transport[0]->send(FrameType::data, 0, small);
    REQUIRE_FALSE(st.ok());
    CHECK(std::string(st.error().message) == "link: not established");
    REQUIRE(p.run_until([&] { return p.both_established(); }, kSecond));
    CHECK(std::string(p.transport[0]->send(FrameType::ack, 0, small).error().message) == "link: not a message frame type");
    std::vector<std::uint8_t> big(1429);
    CHECK(p.transport[0]->send(FrameType::data, 0, big).error().value == 1429);
    p.link.set_partitioned(true);
    int sent = 0;
    while (p.transport[0]->send(FrameType::pages, 1, small).ok()) ++sent;
    CHECK(sent == 64);
    CHECK(std::string(p.transport[0]->send(FrameType::pages, 1, small).error().message) == "link: send window full");
    CHECK(p.transport[0]->in_flight() == 64);

    TransportConfig bad = p.config[0];
    bad.session_id = 0;
    CHECK_FALSE(p.transport[0]->start(bad, p.secret[0]).ok());
    bad = p.config[0];
    bad.window = 65;
    CHECK_FALSE(p.transport[0]->start(bad, p.secret[0]).ok());
    bad = p.config[0];
    bad.mtu = 1279;  // below IPv6's minimum link MTU: the smallest the link takes is 1280
    CHECK_FALSE(p.transport[0]->start(bad, p.secret[0]).ok());
}

TEST_CASE("transport: message types, epochs and a sink that sends from its callback") {
    // The backup answers every PAGES message with an EPOCH_ACK from inside on_message().
    struct Echo final : MessageSink {
        void on_message(const Message& m) override {
            seen.push_back({m.type, m.epoch});
            if (m.type == FrameType::pages && transport != nullptr) {
                std::uint8_t n[8] = {};
                for (int i = 0; i < 8; ++i) n[i] = static_cast<std::uint8_t>(m.epoch >> (8 * i));
                (void)transport->send(FrameType::epoch_ack, m.epoch, n);
            }
        }
        Transport* transport = nullptr;
        std::vector<std::pair<FrameType, std::uint64_t>> seen;
    };
    test::SimClock clock;
    test::SimLink link(clock, 3);
    Echo sink[2];
    LinkPair cfg(3);  // only its configurations are used
    std::unique_ptr<Transport> t[2];
    for (int s = 0; s < 2; ++s) {
        t[s] = std::make_unique<Transport>(link.port(s), clock, sink[s]);
        link.attach(s, t[s].get());
    }
    sink[1].transport = t[1].get();
    for (int s = 0; s < 2; ++s) REQUIRE(t[s]->start(cfg.config[s], cfg.secret[s]).ok());
    auto pump = [&](std::uint64_t ns) {
        std::uint64_t end = clock.now + ns;
        while (clock.now < end) {
            link.deliver_due();
            t[0]->poll();
            t[1]->poll();
            clock.now += 50'000;
        }
    };
    pump(50 * kMs);
    REQUIRE(t[0]->established());
    const FrameType types[] = {FrameType::pages, FrameType::cpu_state, FrameType::device_state, FrameType::epoch_end,
                               FrameType::forward, FrameType::migrate_begin, FrameType::data};
    std::uint64_t epoch = 40;
    for (FrameType type : types) {
        std::uint8_t byte = static_cast<std::uint8_t>(type);
        REQUIRE(t[0]->send(type, epoch++, std::span<const std::uint8_t>(&byte, 1)).ok());
    }
    pump(50 * kMs);
    REQUIRE(sink[1].seen.size() == 7);
    for (std::size_t i = 0; i < 7; ++i) {
        CHECK(sink[1].seen[i].first == types[i]);
        CHECK(sink[1].seen[i].second == 40 + i);
    }
    REQUIRE(sink[0].seen.size() == 1);
    CHECK(sink[0].seen[0].first == FrameType::epoch_ack);
    CHECK(sink[0].seen[0].second == 40);
}

TEST_CASE("transport: random garbage and random valid-looking frames never crash or deliver") {
    std::uint64_t seed = test::test_seed(99);
    INFO("seed " << seed);
    LinkPair p(seed);
    REQUIRE(p.start().ok());
    REQUIRE(p.run_until([&] { return p.both_established(); }, kSecond));
    std::mt19937_64 rng(seed);
    for (int i = 0; i < 3000; ++i) {
        std::vector<std::uint8_t> frame(rng() % 200);
        test::fill_random(rng, frame);
        if (frame.size() >= 17 && i % 2 == 0) {  // our EtherType, magic and version, to get further in
            frame[12] = 0x88, frame[13] = 0xb5, frame[14] = 0x44, frame[15] = 0x54, frame[16] = 1;
            for (int b = 0; b < 6; ++b) frame[static_cast<std::size_t>(b)] = p.config[1].local_mac.bytes[b];
        }
        p.link.inject(1, frame);
    }
    CHECK(p.transport[1]->stats().messages_delivered == 0);
    CHECK(p.transport[1]->stats().frames_received < 1000);  // only the genuine ones
    p.target[0] = 50;
    REQUIRE(p.run_until([&] { return p.all_delivered(); }, 10 * kSecond));
    CHECK(failures(p).empty());
}

TEST_CASE("transport: a bound on sending keeps messages in the window past it, acks and heartbeats still go") {
    LinkPair p(7);
    REQUIRE(p.start().ok());
    REQUIRE(p.run_until([&] { return p.both_established(); }, kSecond));
    Transport& primary = *p.transport[0];
    // Each frame the primary transmits costs it 1 ms (sealing in Bochs is of that order).
    std::uint64_t frames = 0;
    p.link.set_filter(0, [&](std::span<const std::uint8_t>) {
        ++frames;
        p.clock.now += kMs;
        return true;
    });
    const std::uint64_t sent_before = primary.stats().messages_sent;
    const std::uint64_t start = p.clock.now;
    primary.bound_sending_until(start + 3 * kMs + kMs / 2);
    p.inbox[1].max_size = primary.max_message_size();
    for (std::uint64_t i = 0; i < 8; ++i) {
        REQUIRE(primary.send(FrameType::data, i, test::make_payload(0, i, primary.max_message_size())).ok());
    }
    // Within the initial congestion window (10) but not within the bound: frames at +0..+3 ms.
    CHECK(primary.stats().messages_sent - sent_before == 4);
    CHECK(primary.queued() == 4);
    CHECK(frames == 4);

    // Past the bound, the transport stays alive: the peer's messages are acknowledged and
    // heartbeats go, while the queued messages wait.
    p.target[1] = 3;
    p.run_for(20 * kMs);
    CHECK(p.inbox[0].received == 3);
    CHECK(primary.queued() == 4);
    CHECK(primary.stats().messages_sent - sent_before == 4);
    CHECK(primary.stats().acks_sent + primary.stats().heartbeats_sent > 0);
    CHECK(p.transport[1]->acked_everything());
    CHECK_FALSE(p.transport[1]->peer_silent());

    // Lifted: the rest goes at the next poll, and everything is delivered once, in order.
    primary.bound_sending_until(0);
    p.run_for(50 * kMs);
    CHECK(primary.queued() == 0);
    CHECK(primary.stats().messages_sent - sent_before == 8);
    CHECK(primary.acked_everything());
    CHECK(p.inbox[1].received == 8);
    CHECK(failures(p).empty());
}
