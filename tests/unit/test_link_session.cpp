// The link session on its own (replication/link/link_session.hpp): the HELLO handshake, the keys,
// the admission of keyed frames and the silence detector, driven with frames sealed here as the
// peer would seal them and times given explicitly; no transport, no link.
#include <doctest/doctest.h>

#include <memory>
#include <vector>

#include "replication/link/frame_seal.hpp"
#include "replication/link/link_session.hpp"

using namespace tandem;
using namespace tandem::link;

namespace {

constexpr std::uint64_t kMs = 1'000'000;
constexpr std::uint64_t kT0 = 5'000 * kMs;
constexpr MacAddress kOurMac{{0x02, 0, 0, 0, 0, 0x01}};
constexpr MacAddress kPeerMac{{0x02, 0, 0, 0, 0, 0x02}};
constexpr std::uint64_t kOurSession = 0x1111'2222'3333'4445ull;
constexpr std::uint64_t kPeerSession = 0x5555'6666'7777'8889ull;

LinkSecret secret() {
    std::array<std::uint8_t, 32> key{};
    for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<std::uint8_t>(0x60 + i);
    return make_link_secret(true, key, false).value();
}

TransportConfig our_config() {
    TransportConfig c;
    c.role = Role::primary;
    c.session_id = kOurSession;
    c.local_mac = kOurMac;
    c.has_peer_mac = true;
    c.peer_mac = kPeerMac;
    c.mtu = kJumboMtu;
    c.guest_memory = 256ull << 20;
    return c;
}

HandshakeParams peer_params() {
    HandshakeParams p;
    p.role = Role::backup;
    p.mtu = kStandardMtu;
    p.guest_memory = 256ull << 20;
    p.key_id = secret().key_id;
    return p;
}

// A received frame: its bytes and their decoding (whose spans point into the bytes).
struct Received {
    std::vector<std::uint8_t> bytes;
    FrameDecode decode;
    const DecodedFrame& frame() const { return decode.frame; }
};

std::unique_ptr<Received> from_peer(FrameHeader h, std::span<const std::uint8_t> payload, const crypto::Key* key,
                                    MacAddress src = kPeerMac) {
    auto r = std::make_unique<Received>();
    r->bytes.resize(kMaxFrameSize);
    auto size = seal_frame(r->bytes, EthernetHeader{kOurMac, src, kEtherType}, h, payload, key);
    REQUIRE(size.ok());
    r->bytes.resize(*size);
    r->decode = decode_frame(r->bytes);
    return r;
}

std::unique_ptr<Received> hello(const HandshakeParams& p, std::uint64_t session = kPeerSession,
                                MacAddress src = kPeerMac) {
    std::uint8_t payload[kHelloPayloadSize];
    encode_hello(p, payload);
    FrameHeader h;
    h.type = FrameType::hello;
    h.session = session;
    auto r = from_peer(h, payload, nullptr, src);
    REQUIRE(r->decode.ok());
    return r;
}

crypto::Key peer_key(std::uint64_t peer_session = kPeerSession) {
    return derive_traffic_key(secret().master, peer_session, kOurSession);
}

std::unique_ptr<Received> hello_ack(const HelloAck& a, bool keyed, std::uint64_t session = kPeerSession) {
    std::uint8_t payload[kHelloAckPayloadSize];
    encode_hello_ack(a, payload);
    FrameHeader h;
    h.type = FrameType::hello_ack;
    h.session = session;
    const crypto::Key key = peer_key(session);
    auto r = from_peer(h, payload, keyed ? &key : nullptr);
    REQUIRE(r->decode.ok());
    return r;
}

std::unique_ptr<Received> heartbeat(std::uint64_t seq, const crypto::Key* key, std::uint64_t session = kPeerSession) {
    FrameHeader h;
    h.type = FrameType::heartbeat;
    h.session = session;
    h.seq = seq;
    auto r = from_peer(h, {}, key);
    REQUIRE(r->decode.ok());
    return r;
}

struct Rig {
    Rig() { session.start(our_config(), secret(), kT0); }
    // HELLO accepted and the key proven by an accepting HELLO_ACK.
    void establish() {
        auto reply = session.on_hello(hello(peer_params())->frame(), kT0 + kMs);
        REQUIRE(reply.send);
        session.on_hello_ack(hello_ack(HelloAck{HandshakeField::none, kOurSession, 0, 0}, true)->frame(), kT0 + 2 * kMs);
        REQUIRE(session.established());
    }
    TransportStats stats;
    LinkSession session{stats};
};

}  // namespace

TEST_CASE("link session: connecting from start, a HELLO every hello_interval") {
    TransportStats stats;
    LinkSession s{stats};
    CHECK(s.state() == LinkSession::State::idle);
    CHECK_FALSE(s.peer_silent(kT0));
    s.start(our_config(), secret(), kT0);
    CHECK(s.state() == LinkSession::State::connecting);
    CHECK(s.local_params().role == Role::primary);
    CHECK(s.local_params().mtu == kJumboMtu);
    CHECK(s.local_params().key_id == secret().key_id);
    CHECK(s.link_mtu() == kStandardMtu);  // until the peer's HELLO says more
    const std::uint64_t interval = our_config().timing.hello_interval_ns;
    CHECK_FALSE(s.hello_due(kT0));  // the first one is the caller's, at start
    CHECK_FALSE(s.hello_due(kT0 + interval - 1));
    CHECK(s.hello_due(kT0 + interval));
    CHECK_FALSE(s.hello_due(kT0 + interval + 1));
    CHECK(s.hello_due(kT0 + 3 * interval));  // late: the next one an interval after this one
    CHECK_FALSE(s.hello_due(kT0 + 4 * interval - 1));
    CHECK(same_mac(s.destination(), kPeerMac));
}

TEST_CASE("link session: a compatible HELLO is accepted under the new keys; the peer's HELLO_ACK establishes") {
    Rig r;
    auto reply = r.session.on_hello(hello(peer_params())->frame(), kT0 + kMs);
    REQUIRE(reply.send);
    CHECK(reply.ack.refused == HandshakeField::none);
    CHECK(reply.ack.echo_session == kPeerSession);
    CHECK(same_mac(reply.to, kPeerMac));
    CHECK(r.session.state() == LinkSession::State::connecting);  // the peer has not proven the key yet
    CHECK(r.session.peer_session() == kPeerSession);
    CHECK(r.session.peer_params().role == Role::backup);
    CHECK(r.session.link_mtu() == kStandardMtu);  // the smaller of the two
    REQUIRE(r.session.tx_key(false) != nullptr);
    CHECK(*r.session.tx_key(false) == derive_traffic_key(secret().master, kOurSession, kPeerSession));
    CHECK(r.session.tx_key(true) == nullptr);  // checksummed frames
    CHECK(r.session.rx_key() == peer_key());
    r.session.on_hello_ack(hello_ack(HelloAck{HandshakeField::none, kOurSession, 0, 0}, true)->frame(), kT0 + 7 * kMs);
    CHECK(r.session.established());
    CHECK(r.session.last_heard_ns() == kT0 + 7 * kMs);
    CHECK(r.stats.rejected_bad_tag + r.stats.rejected_malformed + r.stats.rejected_session == 0);
}

TEST_CASE("link session: the peer's HELLO_ACK first, then its HELLO, also establishes") {
    Rig r;
    r.session.on_hello_ack(hello_ack(HelloAck{HandshakeField::none, kOurSession, 0, 0}, true)->frame(), kT0 + kMs);
    CHECK(r.session.state() == LinkSession::State::connecting);
    auto reply = r.session.on_hello(hello(peer_params())->frame(), kT0 + 2 * kMs);
    CHECK(reply.send);
    CHECK(r.session.established());
}

TEST_CASE("link session: a keyed frame of the accepted peer establishes too (its HELLO_ACK was lost)") {
    Rig r;
    (void)r.session.on_hello(hello(peer_params())->frame(), kT0 + kMs);
    const crypto::Key key = peer_key();
    CHECK(r.session.admit(heartbeat(1, &key)->frame(), kT0 + 3 * kMs));
    CHECK(r.session.established());
    CHECK(r.stats.frames_received == 1);
}

TEST_CASE("link session: keyed frames are admitted only from the peer's session, authentic and fresh") {
    TransportStats idle_stats;
    LinkSession idle{idle_stats};
    const crypto::Key key = peer_key();
    CHECK_FALSE(idle.admit(heartbeat(1, &key)->frame(), kT0));
    CHECK(idle_stats.ignored == 1);

    Rig r;
    CHECK_FALSE(r.session.admit(heartbeat(1, &key)->frame(), kT0));  // no peer accepted yet
    CHECK(r.stats.rejected_session == 1);
    r.establish();
    CHECK(r.session.admit(heartbeat(1, &key)->frame(), kT0 + 10 * kMs));
    CHECK(r.session.last_heard_ns() == kT0 + 10 * kMs);
    CHECK_FALSE(r.session.admit(heartbeat(1, &key)->frame(), kT0 + 11 * kMs));  // replayed
    CHECK(r.stats.rejected_replay == 1);
    CHECK_FALSE(r.session.admit(heartbeat(2, nullptr)->frame(), kT0 + 11 * kMs));  // in the clear
    CHECK(r.stats.rejected_malformed == 1);
    const crypto::Key wrong = derive_traffic_key(secret().master, kOurSession, kPeerSession);  // our own direction's
    CHECK_FALSE(r.session.admit(heartbeat(2, &wrong)->frame(), kT0 + 11 * kMs));
    CHECK(r.stats.rejected_bad_tag == 1);
    const crypto::Key other = peer_key(kPeerSession + 2);
    CHECK_FALSE(r.session.admit(heartbeat(2, &other, kPeerSession + 2)->frame(), kT0 + 11 * kMs));
    CHECK(r.stats.rejected_session == 2);
    CHECK(r.session.last_heard_ns() == kT0 + 10 * kMs);  // none of those was heard
    CHECK(r.session.admit(heartbeat(2, &key)->frame(), kT0 + 12 * kMs));  // the forgeries did not burn seq 2
    CHECK(r.stats.frames_received == 2);
}

TEST_CASE("link session: a mismatch refuses and names the field, and is repeated to a peer that asks again") {
    Rig r;
    HandshakeParams p = peer_params();
    p.guest_memory = 512ull << 20;
    auto reply = r.session.on_hello(hello(p)->frame(), kT0 + kMs);
    REQUIRE(reply.send);
    CHECK(reply.ack.refused == HandshakeField::guest_memory);
    CHECK(reply.ack.echo_session == kPeerSession);
    CHECK(reply.ack.sender_value == (256ull << 20));    // ours
    CHECK(reply.ack.receiver_value == (512ull << 20));  // what we received
    REQUIRE(r.session.refusal() != nullptr);
    CHECK(r.session.refusal()->field == HandshakeField::guest_memory);
    CHECK_FALSE(r.session.refusal()->by_peer);
    auto again = r.session.on_hello(hello(peer_params())->frame(), kT0 + 2 * kMs);  // even a compatible one
    CHECK(again.ack.refused == HandshakeField::guest_memory);
    CHECK(r.session.state() == LinkSession::State::refused);
    CHECK_FALSE(r.session.hello_due(kT0 + 10'000 * kMs));
}

TEST_CASE("link session: a refusing HELLO_ACK gives the peer's reason, seen from this side") {
    Rig r;
    auto ack = hello_ack(HelloAck{HandshakeField::page_size, kOurSession, 2u << 20, 4096}, false);
    r.session.on_hello_ack(ack->frame(), kT0 + kMs);
    REQUIRE(r.session.refusal() != nullptr);
    CHECK(r.session.refusal()->field == HandshakeField::page_size);
    CHECK(r.session.refusal()->local == 4096);
    CHECK(r.session.refusal()->peer == (2u << 20));
    CHECK(r.session.refusal()->by_peer);
}

TEST_CASE("link session: HELLO_ACKs for another session of ours, or unproven acceptances, change nothing") {
    Rig r;
    r.session.on_hello_ack(hello_ack(HelloAck{HandshakeField::role, kOurSession + 1, 1, 1}, false)->frame(), kT0);
    CHECK(r.stats.rejected_session == 1);
    r.session.on_hello_ack(hello_ack(HelloAck{HandshakeField::none, kOurSession, 0, 0}, false)->frame(), kT0);
    CHECK(r.stats.rejected_malformed == 1);  // an acceptance must come under the key
    (void)r.session.on_hello(hello(peer_params())->frame(), kT0 + kMs);
    CHECK(r.session.state() == LinkSession::State::connecting);
    auto damaged = hello_ack(HelloAck{HandshakeField::none, kOurSession, 0, 0}, true);
    damaged->bytes[damaged->bytes.size() - 20] ^= 1;  // the ciphertext
    r.session.on_hello_ack(damaged->frame(), kT0 + 2 * kMs);
    CHECK(r.stats.rejected_bad_tag == 1);
    CHECK(r.session.state() == LinkSession::State::connecting);
}

TEST_CASE("link session: our own HELLO reflected, and session 0, are rejected") {
    Rig r;
    CHECK_FALSE(r.session.on_hello(hello(peer_params(), kOurSession)->frame(), kT0).send);
    CHECK(r.stats.rejected_session == 1);
    CHECK_FALSE(r.session.on_hello(hello(peer_params(), 0)->frame(), kT0).send);
    CHECK(r.stats.rejected_session == 2);
    CHECK(r.session.state() == LinkSession::State::connecting);
}

TEST_CASE("link session: established, the peer's HELLO is answered again; a new session's is only counted") {
    Rig r;
    r.establish();
    auto reply = r.session.on_hello(hello(peer_params())->frame(), kT0 + 10 * kMs);  // our HELLO_ACK was lost
    CHECK(reply.send);
    CHECK(reply.ack.echo_session == kPeerSession);
    auto restarted = r.session.on_hello(hello(peer_params(), kPeerSession + 2)->frame(), kT0 + 11 * kMs);
    CHECK_FALSE(restarted.send);
    CHECK(r.stats.peer_hellos_after_established == 1);
    CHECK(r.session.established());  // the owner decides what a restart means
    CHECK(r.session.peer_session() == kPeerSession);
}

TEST_CASE("link session: another protocol version refuses when its public checksum holds") {
    FrameHeader h;
    h.type = FrameType::hello;
    h.session = kPeerSession;
    h.version = 2;
    std::uint8_t payload[kHelloPayloadSize];
    encode_hello(peer_params(), payload);
    auto newer = from_peer(h, payload, nullptr);
    REQUIRE(newer->decode.reason == RejectReason::version_mismatch);
    {
        Rig r;
        auto damaged = from_peer(h, payload, nullptr);
        damaged->bytes[80] ^= 4;
        CHECK_FALSE(r.session.on_version_mismatch(damaged->frame(), damaged->bytes, 2).send);
        CHECK(r.stats.rejected_bad_tag == 1);
        auto reply = r.session.on_version_mismatch(newer->frame(), newer->bytes, 2);
        REQUIRE(reply.send);
        CHECK(reply.ack.refused == HandshakeField::protocol_version);
        CHECK(reply.ack.sender_value == kProtocolVersion);
        CHECK(reply.ack.receiver_value == 2);
        CHECK(same_mac(reply.to, kPeerMac));
        CHECK(r.session.refusal()->field == HandshakeField::protocol_version);
    }
    {
        Rig r;
        r.establish();
        CHECK_FALSE(r.session.on_version_mismatch(newer->frame(), newer->bytes, 2).send);
        CHECK(r.stats.peer_hellos_after_established == 1);
        CHECK(r.session.established());
    }
}

TEST_CASE("link session: the peer is silent after silence_timeout without an authenticated frame") {
    Rig r;
    const std::uint64_t timeout = our_config().timing.silence_timeout_ns;
    CHECK_FALSE(r.session.peer_silent(kT0 + timeout - 1));  // counted from start before the first
    CHECK(r.session.peer_silent(kT0 + timeout));
    r.establish();  // heard at kT0 + 2 ms
    CHECK_FALSE(r.session.peer_silent(kT0 + 2 * kMs + timeout - 1));
    CHECK(r.session.peer_silent(kT0 + 2 * kMs + timeout));
    const crypto::Key key = peer_key();
    CHECK(r.session.admit(heartbeat(1, &key)->frame(), kT0 + timeout + 5 * kMs));
    CHECK_FALSE(r.session.peer_silent(kT0 + timeout + 5 * kMs));
}

TEST_CASE("link session: without a configured peer MAC, HELLO goes to broadcast until the peer's is learnt") {
    TransportStats stats;
    LinkSession s{stats};
    TransportConfig c = our_config();
    c.has_peer_mac = false;
    s.start(c, secret(), kT0);
    CHECK(same_mac(s.destination(), kBroadcastMac));
    CHECK_FALSE(s.knows_peer_mac());
    constexpr MacAddress kLearnt{{0x02, 0, 0, 0, 0, 0x77}};
    auto reply = s.on_hello(hello(peer_params(), kPeerSession, kLearnt)->frame(), kT0 + kMs);
    CHECK(same_mac(reply.to, kLearnt));
    CHECK(s.knows_peer_mac());
    CHECK(same_mac(s.destination(), kLearnt));
}
