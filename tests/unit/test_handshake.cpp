// The HELLO handshake over the simulated link: agreement, and every refusal reported with the
// same clear text on both sides (version, guest memory, key, role, page size, features), also
// when only the peer's refusal gets through; insecure_link; learning the peer's MAC.
#include <algorithm>

#include <doctest/doctest.h>

#include "crypto_test_util.hpp"
#include "link_pair.hpp"

using namespace tandem;
using namespace tandem::link;
using test::LinkPair;

namespace {

constexpr std::uint64_t kSecond = 1'000'000'000;

std::string refusal_text(const Transport& t) {
    const HandshakeFailure* f = t.refusal();
    if (f == nullptr) return "(not refused: " + std::string(transport_state_name(t.state())) + ")";
    struct W final : Writer {
        void write(std::string_view text) override { s.append(text); }
        std::string s;
    } w;
    print_handshake_failure(w, *f);
    return w.s;
}

// What a side observed in handshake frames it could not authenticate (they changed nothing).
std::string observation_text(const Transport& t) {
    const HandshakeFailure* f = t.observation();
    if (f == nullptr) return "(nothing observed)";
    struct W final : Writer {
        void write(std::string_view text) override { s.append(text); }
        std::string s;
    } w;
    print_handshake_failure(w, *f);
    return w.s;
}

// Runs two sides that cannot authenticate each other; returns what each observed. Neither is
// refused: each keeps waiting for a peer that holds its key.
std::pair<std::string, std::string> observe_mismatch(LinkPair& p) {
    REQUIRE(p.start().ok());
    p.run_for(500'000'000);
    for (int side : {0, 1}) {
        CHECK(p.transport[side]->state() == Transport::State::connecting);
        CHECK(p.transport[side]->refusal() == nullptr);
    }
    return {observation_text(*p.transport[0]), observation_text(*p.transport[1])};
}

constexpr const char* kIgnored = " (not authenticated with this link key: ignored; still waiting for a peer that holds it)";

bool both_refused(const LinkPair& p) {
    return p.transport[0]->state() == Transport::State::refused && p.transport[1]->state() == Transport::State::refused;
}

// Runs the handshake to its end and returns the texts of both sides.
std::pair<std::string, std::string> refuse(LinkPair& p) {
    REQUIRE(p.start().ok());
    p.run_until([&] { return both_refused(p) || p.both_established(); }, 2 * kSecond);
    p.run_for(100'000'000);  // and a while longer: nothing changes any more
    CHECK_FALSE(p.transport[0]->established());
    CHECK_FALSE(p.transport[1]->established());
    return {refusal_text(*p.transport[0]), refusal_text(*p.transport[1])};
}

}  // namespace

TEST_CASE("handshake: compatible sides agree and learn each other") {
    LinkPair p(1);
    p.config[0].has_peer_mac = false;  // the primary learns the backup's MAC from its HELLO
    p.config[1].has_peer_mac = false;
    REQUIRE(p.start().ok());
    REQUIRE(p.run_until([&] { return p.both_established(); }, kSecond));
    CHECK(p.transport[0]->peer_params().role == Role::backup);
    CHECK(p.transport[1]->peer_params().role == Role::primary);
    CHECK(p.transport[0]->peer_params().guest_memory == (256ull << 20));
    CHECK(p.transport[0]->peer_params().key_id == p.secret[0].key_id);
    p.target[0] = p.target[1] = 100;
    REQUIRE(p.run_until([&] { return p.all_delivered(); }, 10 * kSecond));
    CHECK(p.inbox[0].failure.empty());
    CHECK(test::report_of(*p.transport[0]).find("link: established as primary") != std::string::npos);
}

TEST_CASE("handshake: the handshake survives loss, duplication and corruption of its frames") {
    for (std::uint64_t seed = 1; seed <= 30; ++seed) {
        CAPTURE(seed);
        LinkPair p(seed);
        test::LinkFaults f;
        f.loss = 0.3;
        f.duplicate = 0.2;
        f.corrupt = 0.1;
        f.jitter_ns = 5'000'000;
        p.link.set_faults(f);
        p.target[0] = p.target[1] = 20;
        REQUIRE(p.start().ok());
        REQUIRE(p.run_until([&] { return p.all_delivered(); }, 30 * kSecond));
        CHECK(p.inbox[0].failure.empty());
        CHECK(p.inbox[1].failure.empty());
    }
}

TEST_CASE("handshake: guest memory size mismatch is reported on both sides") {
    LinkPair p(2);
    p.config[1].guest_memory = 512ull << 20;
    auto [primary, backup] = refuse(p);
    CHECK(primary == "link refused: guest memory size mismatch: local 256 MiB, peer 512 MiB");
    CHECK(backup == "link refused: guest memory size mismatch: local 512 MiB, peer 256 MiB");
    CHECK(std::string(p.transport[0]->refusal_error().message) == "link refused: guest memory size mismatch");
    CHECK(test::report_of(*p.transport[0]).find("link: refused as primary") != std::string::npos);
}

TEST_CASE("handshake: protocol version mismatch is reported on both sides, and refuses nothing on a keyed link") {
    LinkPair p(3);
    p.config[1].protocol_version = 2;  // a newer tandem on the backup
    auto [primary, backup] = observe_mismatch(p);
    CHECK(primary == std::string("link not connected: protocol version mismatch: local 1, peer 2") + kIgnored);
    CHECK(backup == std::string("link not connected: protocol version mismatch: local 2, peer 1") + kIgnored);
}

TEST_CASE("handshake: protocol version mismatch refuses an insecure link on both sides") {
    LinkPair p(3);
    std::array<std::uint8_t, 32> unused{};
    p.secret[0] = p.secret[1] = make_link_secret(false, unused, true).value();
    p.config[1].protocol_version = 2;
    auto [primary, backup] = refuse(p);
    CHECK(primary == "link refused: protocol version mismatch: local 1, peer 2");
    CHECK(backup == "link refused: protocol version mismatch: local 2, peer 1");
}

// Two sides with different keys cannot authenticate anything of each other: neither may be
// refused by what the other sends (a forger could send the same), but each says why it does not
// connect, from the key id in the other's (cleartext) HELLO.
TEST_CASE("handshake: different keys are reported as a key mismatch on both sides") {
    LinkPair p(4);
    p.secret[1] = test::secret_for(0x99);
    auto [primary, backup] = observe_mismatch(p);
    auto hex16 = [](std::uint64_t v) {
        std::string s = "0x";
        for (int i = 15; i >= 0; --i) s += "0123456789abcdef"[(v >> (4 * i)) & 15];
        return s;
    };
    CHECK(primary == "link not connected: link key mismatch (key= differs, or only one side has insecure_link=1): "
                     "local key id " + hex16(p.secret[0].key_id) + ", peer key id " + hex16(p.secret[1].key_id) + kIgnored);
    CHECK(backup == "link not connected: link key mismatch (key= differs, or only one side has insecure_link=1): "
                    "local key id " + hex16(p.secret[1].key_id) + ", peer key id " + hex16(p.secret[0].key_id) + kIgnored);
    // Only HELLOs were exchanged: no frame was ever accepted under a key.
    CHECK(p.transport[0]->stats().frames_received == 0);
    CHECK(p.transport[1]->stats().frames_received == 0);
}

TEST_CASE("handshake: a key on one side and insecure_link=1 on the other are reported on both sides") {
    LinkPair p(5);
    std::array<std::uint8_t, 32> unused{};
    p.secret[1] = make_link_secret(false, unused, true).value();
    auto [primary, backup] = observe_mismatch(p);
    CHECK(primary.find("link key mismatch") != std::string::npos);
    CHECK(primary.find("peer none (insecure_link=1)") != std::string::npos);
    CHECK(backup.find("local none (insecure_link=1), peer key id 0x") != std::string::npos);
}

TEST_CASE("handshake: role conflict, page size and feature mismatches") {
    {
        LinkPair p(6);
        p.config[1].role = Role::primary;
        auto [a, b] = refuse(p);
        CHECK(a == "link refused: role conflict: local primary, peer primary");
        CHECK(b == "link refused: role conflict: local primary, peer primary");
    }
    {
        LinkPair p(7);
        p.config[0].page_size = 2u << 20;
        auto [a, b] = refuse(p);
        CHECK(a == "link refused: page size mismatch: local 2097152, peer 4096");
        CHECK(b == "link refused: page size mismatch: local 4096, peer 2097152");
    }
    {
        LinkPair p(8);
        p.config[0].features = 0x3;
        p.config[1].features = 0x1;
        auto [a, b] = refuse(p);
        CHECK(a == "link refused: feature bits mismatch: local 0x3, peer 0x1");
        CHECK(b == "link refused: feature bits mismatch: local 0x1, peer 0x3");
    }
}

TEST_CASE("handshake: when only the refusal gets through, the other side reports the peer's reason") {
    LinkPair p(9);
    p.config[1].guest_memory = 1ull << 30;
    // Every HELLO from the backup is lost; its HELLO_ACKs arrive.
    p.link.set_filter(1, [](std::span<const std::uint8_t> frame) {
        return !(frame.size() > 17 && frame[17] == static_cast<std::uint8_t>(FrameType::hello));
    });
    auto [primary, backup] = refuse(p);
    CHECK(primary == "link refused by peer: guest memory size mismatch: local 256 MiB, peer 1 GiB");
    CHECK(backup == "link refused: guest memory size mismatch: local 1 GiB, peer 256 MiB");
    CHECK(p.transport[0]->refusal()->by_peer);
    CHECK_FALSE(p.transport[1]->refusal()->by_peer);
}

TEST_CASE("handshake: insecure_link=1 on both sides works, checksummed and in the clear") {
    std::uint64_t seed = test::test_seed(10);
    INFO("seed " << seed);
    LinkPair p(seed);
    std::array<std::uint8_t, 32> unused{};
    p.secret[0] = p.secret[1] = make_link_secret(false, unused, true).value();
    test::LinkFaults f;
    f.loss = 0.05;
    f.corrupt = 0.02;
    f.jitter_ns = 100'000;
    p.link.set_faults(f);
    p.link.set_capture(0, true);
    p.target[0] = p.target[1] = 500;
    REQUIRE(p.start().ok());
    REQUIRE(p.run_until([&] { return p.all_delivered(); }, 30 * kSecond));
    CHECK(p.inbox[0].failure.empty());
    CHECK(p.inbox[1].failure.empty());
    CHECK(p.transport[1]->stats().rejected_bad_tag > 0);  // corruption is still caught
    CHECK(test::report_of(*p.transport[0]).find("INSECURE") != std::string::npos);
    // The payload travels in the clear.
    auto first = test::make_payload(0, 15, 1428);
    bool seen_in_clear = false;
    for (const auto& frame : p.link.captured(0)) {
        if (std::search(frame.begin(), frame.end(), first.begin(), first.end()) != frame.end()) seen_in_clear = true;
    }
    CHECK(seen_in_clear);
}

TEST_CASE("handshake: a restarted peer's new session replaces the old once it proves the key") {
    LinkPair p(12);
    REQUIRE(p.start().ok());
    REQUIRE(p.run_until([&] { return p.both_established(); }, kSecond));
    const std::uint64_t old_session = p.transport[0]->peer_session();
    // The backup restarts: a new session id, same configuration.
    p.config[1].session_id ^= 0x5555;
    REQUIRE(p.transport[1]->start(p.config[1], p.secret[1]).ok());
    // The primary keeps its established peer until the new session proves the key (its first
    // keyed frame under the new session's traffic keys: a heartbeat at the latest).
    REQUIRE(p.run_until([&] { return p.both_established() && p.transport[0]->stats().peer_restarts != 0; }, kSecond));
    CHECK(p.transport[0]->stats().peer_restarts == 1);  // the owner decides what a restart means
    CHECK(p.transport[0]->peer_session() == p.config[1].session_id);
    CHECK(p.transport[0]->peer_session() != old_session);
    CHECK(p.transport[1]->peer_session() == p.config[0].session_id);
}
