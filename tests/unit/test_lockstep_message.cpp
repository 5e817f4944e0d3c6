// The lockstep link messages (replication/lockstep/lockstep_message.hpp): the byte layout, a
// round trip for both kinds, every malformed message refused with its reason, and the receiver's
// order check (consecutive within a generation, older generations stale).
#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "replication/lockstep/lockstep_message.hpp"

using namespace tandem::lockstep;

namespace {

std::vector<std::uint8_t> sample_frame(std::size_t n) {
    std::vector<std::uint8_t> f(n);
    for (std::size_t i = 0; i < n; ++i) f[i] = static_cast<std::uint8_t>(i * 7 + 1);
    return f;
}

std::vector<std::uint8_t> encoded(const LockstepMessage& m) {
    std::vector<std::uint8_t> out(kLockstepMaxMessage);
    auto n = encode_lockstep_message(m, out);
    REQUIRE_MESSAGE(n.ok(), n.error().message);
    out.resize(*n);
    return out;
}

std::string refusal(const std::vector<std::uint8_t>& bytes) {
    auto r = decode_lockstep_message(bytes);
    return r.ok() ? std::string{} : std::string{r.error().message};
}

}  // namespace

TEST_CASE("lockstep message: the layout, and both kinds round-trip") {
    auto frame = sample_frame(60);
    LockstepMessage m{LockstepMessageKind::client_input, 0x0102030405060708, 9, 0x1122334455667788, frame};
    auto bytes = encoded(m);
    REQUIRE(bytes.size() == 32 + 60);
    CHECK(std::string(bytes.begin(), bytes.begin() + 4) == "TLS1");
    CHECK(bytes[4] == 1);
    CHECK(bytes[5] == 0);
    CHECK(bytes[6] == 60);
    CHECK(bytes[7] == 0);
    CHECK(bytes[8] == 0x08);   // generation, little-endian
    CHECK(bytes[15] == 0x01);
    CHECK(bytes[16] == 9);     // sequence
    CHECK(bytes[24] == 0x88);  // guest TSC
    CHECK(std::vector<std::uint8_t>(bytes.begin() + 32, bytes.end()) == frame);

    auto d = decode_lockstep_message(bytes);
    REQUIRE(d.ok());
    CHECK(d->kind == LockstepMessageKind::client_input);
    CHECK(d->generation == 0x0102030405060708);
    CHECK(d->sequence == 9);
    CHECK(d->guest_tsc == 0x1122334455667788);
    CHECK(std::vector<std::uint8_t>(d->frame.begin(), d->frame.end()) == frame);

    for (std::size_t n : {kLockstepMinFrame, kLockstepMaxFrame}) {
        auto f = sample_frame(n);
        auto out = decode_lockstep_message(encoded({LockstepMessageKind::guest_output, 3, 0, 77, f}));
        REQUIRE(out.ok());
        CHECK(out->kind == LockstepMessageKind::guest_output);
        CHECK(out->frame.size() == n);
    }
}

TEST_CASE("lockstep message: the encoder refuses frames out of range and a buffer too small") {
    std::vector<std::uint8_t> out(kLockstepMaxMessage + 10, 0xcc);
    auto short_frame = sample_frame(13), long_frame = sample_frame(1519), ok_frame = sample_frame(100);
    auto refused = encode_lockstep_message({LockstepMessageKind::client_input, 0, 0, 0, short_frame}, out);
    REQUIRE_FALSE(refused.ok());
    CHECK(std::string(refused.error().message) == "lockstep: frame length out of range");
    CHECK_FALSE(encode_lockstep_message({LockstepMessageKind::client_input, 0, 0, 0, long_frame}, out).ok());
    CHECK_FALSE(encode_lockstep_message({static_cast<LockstepMessageKind>(3), 0, 0, 0, ok_frame}, out).ok());
    std::vector<std::uint8_t> small(131, 0xcc);
    CHECK_FALSE(encode_lockstep_message({LockstepMessageKind::client_input, 0, 0, 0, ok_frame}, small).ok());
    CHECK(small == std::vector<std::uint8_t>(131, 0xcc));  // nothing written
}

TEST_CASE("lockstep message: every malformed message is refused with its reason") {
    auto good = encoded({LockstepMessageKind::guest_output, 1, 2, 3, sample_frame(64)});
    CHECK(refusal(good).empty());
    for (std::size_t n = 0; n < good.size(); ++n) {
        CAPTURE(n);
        CHECK_FALSE(decode_lockstep_message({good.data(), n}).ok());
    }
    CHECK(refusal({good.begin(), good.begin() + 31}) == "lockstep: message shorter than its header");
    auto longer = good;
    longer.push_back(0);
    CHECK(refusal(longer) == "lockstep: message size does not match its frame length");
    auto bad = good;
    bad[3] = '2';
    CHECK(refusal(bad) == "lockstep: message with a bad magic");
    for (unsigned kind : {0u, 4u, 0xffu}) {
        bad = good;
        bad[4] = static_cast<std::uint8_t>(kind);
        CHECK(refusal(bad) == "lockstep: unknown message kind");
    }
    bad = good;
    bad[5] = 1;
    CHECK(refusal(bad) == "lockstep: reserved byte set");
    for (unsigned length : {0u, 13u, 1519u, 0xffffu}) {
        bad = good;
        bad[6] = static_cast<std::uint8_t>(length);
        bad[7] = static_cast<std::uint8_t>(length >> 8);
        CHECK(refusal(bad) == "lockstep: frame length out of range");
    }
    bad = good;
    bad[6] = 63;  // one byte less than the message carries
    CHECK(refusal(bad) == "lockstep: message size does not match its frame length");
    bad = good;
    bad[4] = 3;  // a generation's start carrying a frame
    CHECK(refusal(bad) == "lockstep: frame length out of range");
}

TEST_CASE("lockstep message: a generation's start carries no frame") {
    LockstepMessage start{LockstepMessageKind::generation_start, 41, 0, 0, {}};
    auto bytes = encoded(start);
    CHECK(bytes.size() == kLockstepHeaderSize);
    CHECK(bytes[4] == 3);
    auto decoded = decode_lockstep_message(bytes);
    REQUIRE(decoded.ok());
    CHECK(decoded->kind == LockstepMessageKind::generation_start);
    CHECK(decoded->generation == 41);
    CHECK(decoded->frame.empty());
    std::vector<std::uint8_t> out(kLockstepMaxMessage);
    auto frame = sample_frame(60);
    CHECK_FALSE(encode_lockstep_message({LockstepMessageKind::generation_start, 41, 0, 0, frame}, out).ok());
    CHECK_FALSE(encode_lockstep_message({LockstepMessageKind::client_input, 41, 0, 0, {}}, out).ok());
}

TEST_CASE("lockstep sequence: consecutive within a generation, older generations stale, a new one from 0") {
    LockstepSequence s;
    using V = LockstepSequence::Verdict;
    CHECK(s.accept(0, 0) == V::in_order);
    CHECK(s.accept(0, 1) == V::in_order);
    CHECK(s.accept(0, 3) == V::out_of_order);  // 2 is missing
    CHECK(s.next() == 2);
    CHECK(s.accept(0, 2) == V::in_order);
    CHECK(s.accept(0, 2) == V::out_of_order);  // a repeat
    CHECK(s.accept(2, 0) == V::in_order);      // a checkpoint started generation 2
    CHECK(s.generation() == 2);
    CHECK(s.accept(1, 5) == V::stale);
    CHECK(s.accept(0, 3) == V::stale);
    CHECK(s.accept(2, 1) == V::in_order);
    CHECK(s.accept(3, 1) == V::out_of_order);  // a new generation must start at 0
    CHECK(s.generation() == 3);
    CHECK(s.accept(3, 0) == V::in_order);
}
