// The pieces of the protected pair: the output-commit buffer, the stream queue, the
// split-brain probe frame, the pair notice and the gratuitous ARP.
#include <doctest/doctest.h>

#include <vector>

#include "link_pair.hpp"
#include "hypervisor/net/gratuitous_arp.hpp"
#include "replication/engine/output_commit.hpp"
#include "replication/engine/pair_notice.hpp"
#include "replication/engine/stream_queue.hpp"
#include "replication/link/client_probe.hpp"

using namespace tandem;

namespace {

struct RecordingNic final : virtio::NetBackend {
    bool transmit(std::span<const std::uint8_t> frame) override {
        if (busy) return false;
        frames.emplace_back(frame.begin(), frame.end());
        return true;
    }
    bool busy = false;
    std::vector<std::vector<std::uint8_t>> frames;
};

std::vector<std::uint8_t> frame_of(std::uint8_t id, std::size_t size = 60) { return std::vector<std::uint8_t>(size, id); }

struct OutputRig {
    explicit OutputRig(std::size_t slots = 8) : storage(slots * engine::OutputCommitBuffer::kSlotSize), buffer(storage, nic) {}
    std::vector<std::uint8_t> ids() const {
        std::vector<std::uint8_t> v;
        for (const auto& f : nic.frames) v.push_back(f[0]);
        return v;
    }
    RecordingNic nic;
    std::vector<std::uint8_t> storage;
    engine::OutputCommitBuffer buffer;
};

}  // namespace

TEST_CASE("output commit: frames of epoch N leave only when N is acknowledged, in order") {
    OutputRig r;
    r.buffer.set_holding(true);
    r.buffer.set_epoch(5);
    CHECK(r.buffer.transmit(frame_of(1)));
    CHECK(r.buffer.transmit(frame_of(2)));
    r.buffer.set_epoch(6);
    CHECK(r.buffer.transmit(frame_of(3)));
    CHECK(r.nic.frames.empty());
    CHECK(r.buffer.release_through(4) == 0);
    CHECK(r.buffer.release_through(5) == 2);
    CHECK(r.ids() == std::vector<std::uint8_t>{1, 2});
    CHECK(r.buffer.release_through(5) == 0);  // an acknowledgement repeated
    CHECK(r.buffer.release_through(7) == 1);
    CHECK(r.ids() == std::vector<std::uint8_t>{1, 2, 3});
    CHECK(r.nic.frames[2].size() == 60);
    CHECK(r.buffer.frames_released_total() == 3);
}

TEST_CASE("output commit: the largest frame virtio-net sends (VLAN-tagged, 1518 bytes) is held and released whole") {
    OutputRig r;
    r.buffer.set_holding(true);
    r.buffer.set_epoch(1);
    auto tagged = frame_of(7, virtio::VirtioMmioNet::kMaxFrame);
    tagged.back() = 0x5a;
    CHECK(r.buffer.transmit(tagged));
    CHECK(r.buffer.held() == 1);
    CHECK(r.buffer.release_through(1) == 1);
    REQUIRE(r.nic.frames.size() == 1);
    CHECK(r.nic.frames[0] == tagged);
}

TEST_CASE("output commit: a busy NIC keeps released frames, in order, for the next attempt") {
    OutputRig r;
    r.buffer.set_holding(true);
    r.buffer.set_epoch(1);
    r.buffer.transmit(frame_of(1));
    r.buffer.transmit(frame_of(2));
    r.nic.busy = true;
    CHECK(r.buffer.release_through(1) == 0);
    r.buffer.set_epoch(2);
    r.buffer.transmit(frame_of(3));
    r.nic.busy = false;
    CHECK(r.buffer.flush_released() == 2);  // epoch 1 was released; epoch 2 was not
    CHECK(r.ids() == std::vector<std::uint8_t>{1, 2});
}

TEST_CASE("output commit: a full buffer refuses (the guest's queue waits), nothing is dropped") {
    OutputRig r(3);
    r.buffer.set_holding(true);
    r.buffer.set_epoch(1);
    for (std::uint8_t i = 1; i <= 3; ++i) CHECK(r.buffer.transmit(frame_of(i)));
    CHECK_FALSE(r.buffer.transmit(frame_of(4)));
    CHECK(r.buffer.refusals() == 1);
    r.buffer.release_through(1);
    CHECK(r.buffer.transmit(frame_of(4)));
    r.buffer.release_through(1);
    CHECK(r.ids() == std::vector<std::uint8_t>{1, 2, 3, 4});
}

TEST_CASE("output commit: pass-through, and switching between holding and pass-through") {
    OutputRig r;
    r.buffer.set_holding(false);
    CHECK(r.buffer.transmit(frame_of(1)));
    CHECK(r.ids() == std::vector<std::uint8_t>{1});
    // A backup joins: from now on frames wait, even though everything passed before.
    r.buffer.set_holding(true);
    r.buffer.set_epoch(9);
    r.buffer.transmit(frame_of(2));
    CHECK(r.buffer.flush_released() == 0);
    CHECK(r.ids() == std::vector<std::uint8_t>{1});
    // The backup is lost: everything held goes at once, in order, and later frames pass.
    r.buffer.set_holding(false);
    r.buffer.transmit(frame_of(3));
    CHECK(r.ids() == std::vector<std::uint8_t>{1, 2, 3});
    CHECK(r.buffer.held() == 0);
}

TEST_CASE("output commit: pass-through keeps order behind frames a busy NIC refused") {
    OutputRig r;
    r.buffer.set_holding(false);
    r.nic.busy = true;
    CHECK(r.buffer.transmit(frame_of(1)));
    r.nic.busy = false;
    CHECK(r.buffer.transmit(frame_of(2)));
    CHECK(r.ids() == std::vector<std::uint8_t>{1, 2});
}

TEST_CASE("stream queue: bytes come out as they went in, across the wrap, and a full queue refuses") {
    std::vector<std::uint8_t> storage(100);
    engine::StreamQueue q(storage);
    std::vector<std::uint8_t> in, out;
    std::uint8_t next = 0;
    for (int round = 0; round < 50; ++round) {
        std::vector<std::uint8_t> chunk(static_cast<std::size_t>(1 + round % 37));
        for (auto& b : chunk) b = next++;
        if (chunk.size() > q.room()) {
            CHECK_FALSE(q.write(chunk));
            next = static_cast<std::uint8_t>(next - chunk.size());
        } else {
            REQUIRE(q.write(chunk));
            in.insert(in.end(), chunk.begin(), chunk.end());
        }
        std::uint8_t piece[23];
        std::size_t n = q.peek(piece);
        out.insert(out.end(), piece, piece + n);
        q.drop(n);
    }
    while (q.size() != 0) {
        std::uint8_t piece[23];
        std::size_t n = q.peek(piece);
        out.insert(out.end(), piece, piece + n);
        q.drop(n);
    }
    CHECK(out == in);
    q.clear();
    CHECK(q.room() == 100);
}

TEST_CASE("probe frames: a reply authenticates under the pair's key and echoes the challenge") {
    link::LinkSecret secret = test::secret_for(0x40);
    MacAddress a{{2, 0, 0, 0, 0, 1}}, b{{2, 0, 0, 0, 0, 2}};
    link::Challenge c{};
    for (std::size_t i = 0; i < link::kChallengeSize; ++i) c.bytes[i] = static_cast<std::uint8_t>(i * 13 + 1);
    std::uint8_t frame[link::kProbeFrameSize];
    link::build_probe(frame, b, a, link::ProbeKind::request, c, secret);
    CHECK(frame[12] == 0x88);
    CHECK(frame[13] == 0xB6);
    link::ProbeParse p = link::parse_probe(frame, secret);
    REQUIRE(p.valid);
    CHECK(p.frame.kind == link::ProbeKind::request);
    CHECK(std::equal(p.frame.source.bytes, p.frame.source.bytes + 6, a.bytes));
    CHECK(std::equal(c.bytes, c.bytes + 16, p.frame.challenge.bytes));

    SUBCASE("another key is refused as such") {
        link::ProbeParse q = link::parse_probe(frame, test::secret_for(0x41));
        CHECK(q.is_probe);
        CHECK_FALSE(q.valid);
        CHECK(std::string(q.problem) == "probe frame for another link key");
    }
    SUBCASE("every altered byte is refused") {
        for (std::size_t i = 14; i < link::kProbeFrameSize; ++i) {
            std::uint8_t copy[link::kProbeFrameSize];
            std::copy(frame, frame + sizeof(frame), copy);
            copy[i] ^= 0x20;
            CAPTURE(i);
            CHECK_FALSE(link::parse_probe(copy, secret).valid);
        }
    }
    SUBCASE("a request is not a reply: the kind is in the nonce") {
        std::uint8_t copy[link::kProbeFrameSize];
        std::copy(frame, frame + sizeof(frame), copy);
        copy[14 + 5] = 2;
        CHECK(std::string(link::parse_probe(copy, secret).problem) == "probe frame that does not authenticate");
    }
    SUBCASE("short frames and other EtherTypes") {
        CHECK(std::string(link::parse_probe(std::span(frame, 40), secret).problem) == "probe frame too short");
        std::uint8_t other[link::kProbeFrameSize];
        std::copy(frame, frame + sizeof(frame), other);
        other[13] = 0xB5;
        CHECK_FALSE(link::parse_probe(other, secret).is_probe);
        CHECK_FALSE(link::parse_probe(std::span(frame, 10), secret).is_probe);
    }
    SUBCASE("insecure pairs checksum probes under the public key") {
        std::array<std::uint8_t, 32> no_key{};
        auto insecure = link::make_link_secret(false, no_key, true);
        REQUIRE(insecure);
        link::build_probe(frame, b, a, link::ProbeKind::reply, c, *insecure);
        CHECK(link::parse_probe(frame, *insecure).valid);
        CHECK_FALSE(link::parse_probe(frame, secret).valid);
    }
}

TEST_CASE("pair notice: round trip and refusals") {
    std::uint8_t bytes[engine::kPairNoticeSize];
    engine::encode_pair_notice({engine::PairNoticeKind::protected_from, 0x0102030405060708}, bytes);
    auto n = engine::decode_pair_notice(bytes);
    REQUIRE(n);
    CHECK(n->epoch == 0x0102030405060708);
    CHECK_FALSE(engine::decode_pair_notice(std::span(bytes, 15)));
    bytes[0] = 'X';
    CHECK_FALSE(engine::decode_pair_notice(bytes));
    engine::encode_pair_notice({engine::PairNoticeKind::hand_over, 77}, bytes);
    auto h = engine::decode_pair_notice(bytes);
    REQUIRE(h);
    CHECK(h->kind == engine::PairNoticeKind::hand_over);
    CHECK(h->epoch == 77);
    for (int kind : {0, 3, 0xff}) {
        bytes[4] = static_cast<std::uint8_t>(kind);
        CHECK_FALSE(engine::decode_pair_notice(bytes));
    }
    bytes[4] = 1;
    bytes[7] = 1;  // kind 0x01000001
    CHECK_FALSE(engine::decode_pair_notice(bytes));
}

TEST_CASE("gratuitous ARP: an RFC 5227 announcement from the guest's MAC for its address") {
    std::uint8_t f[net::kGratuitousArpSize];
    MacAddress mac{{0x52, 0x54, 0, 0x12, 0x34, 0x56}};
    const std::uint8_t ip[4] = {10, 0, 2, 15};
    net::build_gratuitous_arp(f, mac, ip);
    const std::uint8_t expected[42] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0, 0x12, 0x34, 0x56, 0x08, 0x06,
                                       0, 1, 0x08, 0, 6, 4, 0, 1, 0x52, 0x54, 0, 0x12, 0x34, 0x56, 10, 0, 2, 15,
                                       0, 0, 0, 0, 0, 0, 10, 0, 2, 15};
    CHECK(std::equal(expected, expected + 42, f));
    CHECK(std::all_of(f + 42, f + 60, [](std::uint8_t b) { return b == 0; }));
}
