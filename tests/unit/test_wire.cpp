// The replication-link wire format: header layout at fixed offsets, Ethernet framing, the
// validating decoder (every rejection reason), sealing/opening frames, HELLO payloads, link keys
// and the anti-replay window.
#include <algorithm>

#include <doctest/doctest.h>

#include "crypto_test_util.hpp"
#include "helpers.hpp"
#include "replication/link/frame.hpp"
#include "replication/link/frame_seal.hpp"
#include "replication/link/hello.hpp"
#include "replication/link/link_keys.hpp"
#include "replication/link/replay_window.hpp"

using namespace tandem;
using namespace tandem::link;
using test::ByteVec;

namespace {

const MacAddress kMacA{{0x02, 0x00, 0x00, 0x00, 0x00, 0x0a}};
const MacAddress kMacB{{0x02, 0x00, 0x00, 0x00, 0x00, 0x0b}};

crypto::Key test_key(std::uint8_t fill) {
    crypto::Key k{};
    for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(fill + i);
    return k;
}

FrameHeader data_header(std::uint64_t seq, std::uint64_t msg) {
    FrameHeader h;
    h.type = FrameType::data;
    h.session = 0x1122334455667788ull;
    h.epoch = 7;
    h.seq = seq;
    h.msg = msg;
    h.ack = 3;
    h.ack_bitmap = 0x5;
    return h;
}

ByteVec build(const FrameHeader& h, const ByteVec& payload, const crypto::Key* key, MacAddress dst = kMacB) {
    ByteVec frame(kMaxFrameSize);
    auto size = seal_frame(frame, EthernetHeader{dst, kMacA, kEtherType}, h, payload, key);
    REQUIRE(size.ok());
    frame.resize(*size);
    return frame;
}

void put16(ByteVec& f, std::size_t at, std::uint16_t v) {
    f[at] = static_cast<std::uint8_t>(v);
    f[at + 1] = static_cast<std::uint8_t>(v >> 8);
}
void put64(ByteVec& f, std::size_t at, std::uint64_t v) {
    for (std::size_t i = 0; i < 8; ++i) f[at + i] = static_cast<std::uint8_t>(v >> (8 * i));
}

RejectReason reason_of(const ByteVec& f, std::size_t max = kMaxFrameSize) { return decode_frame(f, max).reason; }

}  // namespace

TEST_CASE("wire: header fields sit at their documented offsets, little-endian") {
    FrameHeader h;
    h.type = FrameType::epoch_end;
    h.flags = flags::plaintext;
    h.payload_length = 0x0102;
    h.session = 0x0807060504030201ull;
    h.epoch = 0x1817161514131211ull;
    h.seq = 0x2827262524232221ull;
    h.msg = 0x3837363534333231ull;
    h.ack = 0x4847464544434241ull;
    h.ack_bitmap = 0x5857565554535251ull;
    std::array<std::uint8_t, kFrameHeaderSize> bytes{};
    encode_header(h, bytes);
    CHECK(test::to_hex(bytes) ==
          "44540106010002010102030405060708111213141516171821222324252627283132333435363738"
          "41424344454647485152535455565758");
    FrameHeader back = decode_header(bytes);
    CHECK(back.magic == kMagic);
    CHECK(back.version == kProtocolVersion);
    CHECK(back.type == FrameType::epoch_end);
    CHECK(back.flags == flags::plaintext);
    CHECK(back.payload_length == 0x0102);
    CHECK(back.session == h.session);
    CHECK(back.epoch == h.epoch);
    CHECK(back.seq == h.seq);
    CHECK(back.msg == h.msg);
    CHECK(back.ack == h.ack);
    CHECK(back.ack_bitmap == h.ack_bitmap);

    std::array<std::uint8_t, kEthernetHeaderSize> eth{};
    encode_ethernet(EthernetHeader{kMacB, kMacA, kEtherType}, eth);
    CHECK(test::to_hex(eth) == "02000000000b02000000000a88b5");
    EthernetHeader e = decode_ethernet(eth);
    CHECK(same_mac(e.dst, kMacB));
    CHECK(same_mac(e.src, kMacA));
    CHECK(e.ether_type == 0x88B5);
}

TEST_CASE("wire: an encrypted frame round-trips and every single-bit flip is rejected") {
    crypto::Key key = test_key(1);
    ByteVec payload = test::ascii_bytes("page contents that must stay secret");
    ByteVec frame = build(data_header(9, 4), payload, &key);
    REQUIRE(frame.size() == kMinFrameSize + payload.size());
    // The payload is not on the wire in the clear.
    CHECK(std::search(frame.begin(), frame.end(), payload.begin(), payload.end()) == frame.end());

    FrameDecode d = decode_frame(frame);
    REQUIRE(d.ok());
    CHECK(d.frame.header.seq == 9);
    CHECK(d.frame.header.msg == 4);
    CHECK(d.frame.header.payload_length == payload.size());
    CHECK_FALSE(d.frame.plaintext());
    REQUIRE(verify_frame(d.frame, &key));
    ByteVec clear(payload.size());
    decrypt_verified_payload(d.frame, key, clear);
    CHECK(clear == payload);
    crypto::Key other = test_key(2);
    CHECK_FALSE(verify_frame(d.frame, &other));
    CHECK_FALSE(verify_frame(d.frame, nullptr));

    int accepted = 0;
    for (std::size_t byte = 0; byte < frame.size(); ++byte) {
        for (int bit = 0; bit < 8; ++bit) {
            ByteVec bad = frame;
            bad[byte] ^= static_cast<std::uint8_t>(1u << bit);
            FrameDecode bd = decode_frame(bad);
            if (bd.ok() && verify_frame(bd.frame, &key)) ++accepted;
        }
    }
    CHECK(accepted == 0);
}

TEST_CASE("wire: a checksummed (plaintext) frame keeps its payload readable and still catches bit flips") {
    ByteVec payload = test::ascii_bytes("insecure_link payload");
    ByteVec frame = build(data_header(1, 1), payload, nullptr);
    FrameDecode d = decode_frame(frame);
    REQUIRE(d.ok());
    CHECK(d.frame.plaintext());
    CHECK(ByteVec(d.frame.payload.begin(), d.frame.payload.end()) == payload);
    CHECK(verify_frame(d.frame, nullptr));
    CHECK(verify_public_checksum(frame));
    for (std::size_t byte = 0; byte < frame.size(); ++byte) {
        ByteVec bad = frame;
        bad[byte] ^= 0x10;
        FrameDecode bd = decode_frame(bad);
        CHECK_FALSE((bd.ok() && verify_frame(bd.frame, nullptr)));
    }
}

TEST_CASE("wire: payload limits follow the MTU") {
    crypto::Key key = test_key(3);
    CHECK(max_payload_for_mtu(kStandardMtu) == 1428);
    CHECK(max_payload_for_mtu(kJumboMtu) == 8928);
    ByteVec full(1428, 0x42);
    ByteVec frame = build(data_header(1, 1), full, &key);
    CHECK(frame.size() == 1514);
    CHECK(decode_frame(frame, max_frame_for_mtu(kStandardMtu)).ok());
    ByteVec over(1429, 0x42);
    ByteVec big = build(data_header(1, 1), over, &key);
    CHECK(reason_of(big, max_frame_for_mtu(kStandardMtu)) == RejectReason::too_long);
    CHECK(decode_frame(big, max_frame_for_mtu(kJumboMtu)).ok());
    ByteVec jumbo(kMaxPayload, 1);
    CHECK(decode_frame(build(data_header(1, 1), jumbo, &key)).ok());
    ByteVec too_big(kMaxPayload + 1, 1);
    ByteVec out(kMaxFrameSize + 10);
    CHECK_FALSE(seal_frame(out, EthernetHeader{}, data_header(1, 1), too_big, &key).ok());
    ByteVec tiny(kMinFrameSize - 1);
    CHECK_FALSE(seal_frame(tiny, EthernetHeader{}, data_header(1, 1), {}, &key).ok());
}

TEST_CASE("wire: the decoder names every rejection") {
    crypto::Key key = test_key(4);
    const ByteVec good = build(data_header(5, 2), ByteVec(10, 7), &key);
    REQUIRE(decode_frame(good).ok());

    CHECK(reason_of(ByteVec(good.begin(), good.begin() + 10)) == RejectReason::too_short);
    CHECK(reason_of(ByteVec(good.begin(), good.begin() + 16)) == RejectReason::too_short);
    CHECK(reason_of(ByteVec(good.begin(), good.begin() + kMinFrameSize - 1)) == RejectReason::too_short);
    CHECK(reason_of(ByteVec{}) == RejectReason::too_short);

    ByteVec f = good;
    f[12] = 0x08, f[13] = 0x00;  // IPv4
    CHECK(reason_of(f) == RejectReason::not_tandem);
    f = good;
    f[14] ^= 1;
    CHECK(reason_of(f) == RejectReason::bad_magic);
    f = good;
    f[16] = 2;
    FrameDecode d = decode_frame(f);
    CHECK(d.reason == RejectReason::version_mismatch);
    CHECK(d.value == 2);
    f = good;
    f.resize(f.size() + 1);
    CHECK(reason_of(f) == RejectReason::length_mismatch);
    f.resize(kMaxFrameSize + 1);
    CHECK(reason_of(f) == RejectReason::too_long);
    for (int type : {0, 16, 255}) {
        f = good;
        f[17] = static_cast<std::uint8_t>(type);
        CHECK(reason_of(f) == RejectReason::unknown_type);
    }
    f = good;
    put16(f, 18, 0x8000);
    CHECK(reason_of(f) == RejectReason::reserved_flags);
    f = good;
    put16(f, 20, 11);
    CHECK(reason_of(f) == RejectReason::length_mismatch);
    f = good;
    put64(f, 14 + 24, 0);  // seq
    CHECK(reason_of(f) == RejectReason::missing_sequence);
    f = good;
    put64(f, 14 + 32, 0);  // msg of a DATA frame
    CHECK(reason_of(f) == RejectReason::message_number);

    FrameHeader ack;
    ack.type = FrameType::ack;
    ack.seq = 3;
    CHECK(decode_frame(build(ack, {}, &key)).ok());
    ack.msg = 1;
    CHECK(reason_of(build(ack, {}, &key)) == RejectReason::message_number);
    ack.msg = 0;
    CHECK(reason_of(build(ack, ByteVec(1), &key)) == RejectReason::bad_payload_size);

    FrameHeader hello;
    hello.type = FrameType::hello;
    hello.seq = 1;  // handshake frames are numbered too: the number is their tag's nonce
    CHECK(decode_frame(build(hello, ByteVec(kHelloPayloadSize), nullptr)).ok());
    CHECK(reason_of(build(hello, ByteVec(kHelloPayloadSize - 1), nullptr)) == RejectReason::bad_payload_size);
    CHECK(reason_of(build(hello, ByteVec(kHelloPayloadSize), &key)) == RejectReason::hello_not_plaintext);
    hello.seq = 0;
    CHECK(reason_of(build(hello, ByteVec(kHelloPayloadSize), nullptr)) == RejectReason::missing_sequence);
    hello.seq = 1;
    hello.epoch = 1;
    CHECK(reason_of(build(hello, ByteVec(kHelloPayloadSize), nullptr)) == RejectReason::bad_control_fields);
    hello.epoch = 0;
    hello.ack = 3;
    CHECK(reason_of(build(hello, ByteVec(kHelloPayloadSize), nullptr)) == RejectReason::bad_control_fields);

    for (std::size_t r = 0; r < kRejectReasonCount; ++r) {
        CHECK(std::string(reject_reason_text(static_cast<RejectReason>(r))) != "unknown reason");
    }
}

TEST_CASE("wire: HELLO and HELLO_ACK payloads") {
    HandshakeParams p;
    p.role = Role::backup;
    p.mtu = 9000;
    p.page_size = 4096;
    p.guest_memory = 256ull << 20;
    p.features = 0x5;
    p.key_id = 0x0123456789abcdefull;
    std::array<std::uint8_t, kHelloPayloadSize> bytes{};
    encode_hello(p, bytes);
    CHECK(test::to_hex(bytes) == "0200282300100000000000100000000005000000000000" "00efcdab8967452301");
    auto back = decode_hello(bytes);
    REQUIRE(back.ok());
    CHECK(back->role == Role::backup);
    CHECK(back->mtu == 9000);
    CHECK(back->guest_memory == p.guest_memory);
    CHECK(back->features == 5);
    CHECK(back->key_id == p.key_id);

    auto bad = bytes;
    bad[0] = 3;
    CHECK_FALSE(decode_hello(bad).ok());
    bad = bytes;
    bad[1] = 2;  // no such pair mode
    CHECK(std::string(decode_hello(bad).error().message) == "HELLO: unknown pair mode");
    auto lockstep = bytes;
    lockstep[1] = 1;
    REQUIRE(decode_hello(lockstep).ok());
    CHECK(decode_hello(lockstep)->pair_mode == PairMode::lockstep);
    CHECK(back->pair_mode == PairMode::checkpoint);
    bad = bytes;
    bad[2] = 0x10, bad[3] = 0;  // MTU 16
    CHECK_FALSE(decode_hello(bad).ok());
    CHECK_FALSE(decode_hello(std::span<const std::uint8_t>(bytes).first(31)).ok());

    HelloAck a{HandshakeField::guest_memory, 0xabc, 1, 2};
    std::array<std::uint8_t, kHelloAckPayloadSize> ab{};
    encode_hello_ack(a, ab);
    auto aback = decode_hello_ack(ab);
    REQUIRE(aback.ok());
    CHECK(aback->refused == HandshakeField::guest_memory);
    CHECK(aback->echo_session == 0xabc);
    CHECK(aback->sender_value == 1);
    CHECK(aback->receiver_value == 2);
    ab[0] = 99;
    CHECK_FALSE(decode_hello_ack(ab).ok());
}

TEST_CASE("handshake: parameter comparison names the field and both values") {
    HandshakeParams local;
    local.role = Role::primary;
    local.guest_memory = 256ull << 20;
    local.key_id = 0x11;
    HandshakeParams peer = local;
    peer.role = Role::backup;
    peer.mtu = 9000;  // MTU is negotiated (the smaller wins), never a mismatch
    CHECK_FALSE(check_handshake(local, peer).has_value());

    auto text = [](const HandshakeFailure& f) {
        test::StringWriter w;
        print_handshake_failure(w, f);
        return w.str();
    };
    HandshakeParams m = peer;
    m.guest_memory = 512ull << 20;
    auto f = check_handshake(local, m);
    REQUIRE(f.has_value());
    CHECK(f->field == HandshakeField::guest_memory);
    CHECK(text(*f) == "link refused: guest memory size mismatch: local 256 MiB, peer 512 MiB");
    CHECK(std::string(handshake_error(*f).message) == "link refused: guest memory size mismatch");

    m = peer;
    m.role = Role::primary;
    CHECK(text(*check_handshake(local, m)) == "link refused: role conflict: local primary, peer primary");
    m = peer;
    m.page_size = 2u << 20;
    CHECK(text(*check_handshake(local, m)) == "link refused: page size mismatch: local 4096, peer 2097152");
    m = peer;
    m.features = 0x10;
    CHECK(text(*check_handshake(local, m)) == "link refused: feature bits mismatch: local 0x0, peer 0x10");
    m = peer;
    m.pair_mode = PairMode::lockstep;
    HandshakeFailure mf = *check_handshake(local, m);
    CHECK(text(mf) == "link refused: pair mode mismatch: local checkpoint, peer lockstep");
    CHECK(std::string(handshake_error(mf).message) == "link refused: pair mode mismatch (lockstep and checkpoint)");
    m = peer;
    m.key_id = 0;
    HandshakeFailure kf = *check_handshake(local, m);
    kf.by_peer = true;
    CHECK(text(kf) ==
          "link refused by peer: link key mismatch (key= differs, or only one side has insecure_link=1): "
          "local key id 0x0000000000000011, peer none (insecure_link=1)");
    HandshakeFailure vf{HandshakeField::protocol_version, 1, 2, false};
    CHECK(text(vf) == "link refused: protocol version mismatch: local 1, peer 2");
}

TEST_CASE("wire: link keys, key ids and nonces") {
    std::array<std::uint8_t, 32> key{};
    key[0] = 9;
    auto none = make_link_secret(false, key, false);
    REQUIRE_FALSE(none.ok());
    CHECK(std::string(none.error().message).find("insecure_link=1") != std::string::npos);
    CHECK_FALSE(make_link_secret(true, key, true).ok());
    auto insecure = make_link_secret(false, key, true);
    REQUIRE(insecure.ok());
    CHECK(insecure->insecure);
    CHECK(insecure->key_id == 0);
    auto secure = make_link_secret(true, key, false);
    REQUIRE(secure.ok());
    // An insecure link says at start what it gives up; a keyed one says nothing (issue 14, item 6).
    std::vector<char> text(1024);
    BufferWriter warned(text.data(), text.size());
    warn_if_insecure(warned, *insecure);
    CHECK(std::string(warned.view()).rfind("link: WARNING: insecure_link=1: no key, so anyone", 0) == 0);
    CHECK(std::string(warned.view()).find("forge every frame") != std::string::npos);
    BufferWriter quiet(text.data(), text.size());
    warn_if_insecure(quiet, *secure);
    CHECK(quiet.view().empty());
    CHECK_FALSE(secure->insecure);
    CHECK(secure->key_id != 0);
    CHECK(secure->key_id == derive_key_id(secure->master));
    crypto::Key other = secure->master;
    other[31] ^= 1;
    CHECK(derive_key_id(other) != secure->key_id);

    crypto::Key ab = derive_traffic_key(secure->master, 1, 2);
    crypto::Key ba = derive_traffic_key(secure->master, 2, 1);
    crypto::Key ab2 = derive_traffic_key(secure->master, 1, 3);
    CHECK(ab != ba);
    CHECK(ab != ab2);
    CHECK(ab == derive_traffic_key(secure->master, 1, 2));

    crypto::Nonce n = frame_nonce(0xaabbccdd11223344ull, 0x0102030405060708ull);
    CHECK(test::to_hex(n) == "443322110807060504030201");
}

TEST_CASE("wire: anti-replay window") {
    ReplayWindow w;
    CHECK_FALSE(w.fresh(0));
    CHECK(w.fresh(1));
    w.record(1);
    CHECK_FALSE(w.fresh(1));
    w.record(5);
    CHECK(w.fresh(3));  // late but within the window
    w.record(3);
    CHECK_FALSE(w.fresh(3));
    CHECK(w.fresh(4));
    w.record(5 + ReplayWindow::kSize - 1);
    CHECK(w.fresh(5 + 1));  // still inside
    CHECK_FALSE(w.fresh(5));  // seen
    w.record(5 + ReplayWindow::kSize);
    CHECK_FALSE(w.fresh(5));  // fell out of the window
    CHECK_FALSE(w.fresh(4));
    CHECK(w.fresh(5 + ReplayWindow::kSize - 2));
    w.record(100000);
    CHECK_FALSE(w.fresh(100000 - ReplayWindow::kSize));
    CHECK(w.fresh(100000 - ReplayWindow::kSize + 1));
    for (std::uint64_t s = 100001; s < 101000; ++s) {
        REQUIRE(w.fresh(s));
        w.record(s);
        REQUIRE_FALSE(w.fresh(s));
        REQUIRE_FALSE(w.fresh(s - 1));
    }
}
