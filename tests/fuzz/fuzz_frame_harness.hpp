// Shared by the frame-decoder fuzzer and its seed generator: two transports joined by in-memory
// queues, brought up with fixed sessions and keys so that inputs can be sealed under the real
// traffic key, and the layout of the fuzzer's input.
//
// Input: byte 0 selects the mode (mod 3), the rest is
//   0: one raw frame for decode_frame()
//   1: one raw frame for an established transport's on_frame()
//   2: records, each sealed under the primary->backup traffic key and fed to the backup:
//        u8 type, u8 flags, u16 seq, u16 msg, u16 ack, u64 ack_bitmap, u8 epoch, u8 length,
//        then `length` payload bytes; type 0xfe = advance the clock by `length` ms and poll;
//        type 0xff = the backup sends a message of `length` bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "replication/link/frame_seal.hpp"
#include "replication/link/transport.hpp"

namespace fuzz {

struct Queue final : tandem::link::FrameChannel {
    tandem::Status transmit(std::span<const std::uint8_t> frame) override {
        if (frames.size() < 4096) frames.emplace_back(frame.begin(), frame.end());
        return tandem::success();
    }
    std::vector<std::vector<std::uint8_t>> frames;
};

struct Clock final : tandem::link::Clock {
    std::uint64_t now_ns() override { return now; }
    std::uint64_t now = 0;
};

struct Sink final : tandem::link::MessageSink {
    void on_message(const tandem::link::Message& m) override {
        if (m.number != delivered + 1) out_of_order = true;
        delivered = m.number;
    }
    std::uint64_t delivered = 0;
    bool out_of_order = false;
};

inline constexpr std::uint64_t kSessionA = 0x1111222233334444ull;
inline constexpr std::uint64_t kSessionB = 0x5555666677778888ull;
inline constexpr tandem::MacAddress kMacA{{0x02, 0, 0, 0, 0, 0xa}};
inline constexpr tandem::MacAddress kMacB{{0x02, 0, 0, 0, 0, 0xb}};

inline tandem::link::LinkSecret fuzz_secret() {
    std::array<std::uint8_t, 32> key{};
    for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<std::uint8_t>(0x30 + i);
    return tandem::link::make_link_secret(true, key, false).value();
}

struct Pair {
    Pair() : a(to_b, clock, sink_a), b(to_a, clock, sink_b) {}

    // Starts both sides and exchanges frames until both are established.
    bool bring_up() {
        to_a.frames.clear();
        to_b.frames.clear();
        sink_a = Sink{};
        sink_b = Sink{};
        clock.now = 1'000'000'000;
        tandem::link::TransportConfig ca, cb;
        ca.role = tandem::Role::primary;
        cb.role = tandem::Role::backup;
        ca.session_id = kSessionA;
        cb.session_id = kSessionB;
        ca.local_mac = cb.peer_mac = kMacA;
        cb.local_mac = ca.peer_mac = kMacB;
        ca.has_peer_mac = cb.has_peer_mac = true;
        ca.guest_memory = cb.guest_memory = 64ull << 20;
        if (!a.start(ca, fuzz_secret()) || !b.start(cb, fuzz_secret())) return false;
        for (int round = 0; round < 8 && !(a.established() && b.established()); ++round) pump();
        return a.established() && b.established();
    }

    void pump() {
        for (int i = 0; i < 16 && (!to_a.frames.empty() || !to_b.frames.empty()); ++i) {
            auto for_b = std::move(to_b.frames);
            auto for_a = std::move(to_a.frames);
            to_a.frames.clear();
            to_b.frames.clear();
            for (auto& f : for_b) b.on_frame(f);
            for (auto& f : for_a) a.on_frame(f);
        }
    }

    // A frame from A to B with the given header, sealed under A's traffic key.
    std::vector<std::uint8_t> seal_from_a(tandem::link::FrameHeader h, std::span<const std::uint8_t> payload) const {
        tandem::link::LinkSecret s = fuzz_secret();
        tandem::crypto::Key key = tandem::link::derive_traffic_key(s.master, kSessionA, kSessionB);
        h.magic = tandem::link::kMagic;
        h.version = tandem::link::kProtocolVersion;
        h.session = kSessionA;
        std::vector<std::uint8_t> out(tandem::link::kMaxFrameSize);
        auto size = tandem::link::seal_frame(out, tandem::link::EthernetHeader{kMacB, kMacA, tandem::link::kEtherType},
                                             h, payload, (h.flags & tandem::link::flags::plaintext) ? nullptr : &key);
        out.resize(size ? *size : 0);
        return out;
    }

    Queue to_a, to_b;
    Clock clock;
    Sink sink_a, sink_b;
    tandem::link::Transport a;
    tandem::link::Transport b;
};

}  // namespace fuzz
