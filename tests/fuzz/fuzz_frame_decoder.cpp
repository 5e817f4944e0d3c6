// libFuzzer: the replication link's frame decoder on arbitrary bytes, and an established
// transport's on_frame() on arbitrary frames and on sequences of authentic frames with arbitrary
// header fields (fuzz_frame_harness.hpp describes the input). Invariants: decoded spans lie
// inside the input, messages are delivered in order and at most once, the window holds.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <span>

#include "replication/link/frame.hpp"
#include "tests/fuzz/fuzz_frame_harness.hpp"

using namespace tandem::link;

namespace {

bool inside(std::span<const std::uint8_t> part, std::span<const std::uint8_t> whole) {
    return part.empty() || (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

void check_decoder(std::span<const std::uint8_t> bytes) {
    for (std::size_t max : {max_frame_for_mtu(kStandardMtu), kMaxFrameSize}) {
        FrameDecode d = decode_frame(bytes, max);
        if (!d.ok()) {
            if (reject_reason_text(d.reason) == nullptr) std::abort();
            continue;
        }
        const DecodedFrame& f = d.frame;
        if (bytes.size() > max || bytes.size() < kMinFrameSize) std::abort();
        if (!inside(f.payload, bytes) || !inside(f.tag, bytes) || !inside(f.body, bytes)) std::abort();
        if (f.payload.size() != f.header.payload_length || f.tag.size() != kFrameTagSize) std::abort();
        if (f.authenticated.size() + f.payload.size() + f.tag.size() != bytes.size()) std::abort();
        if (is_message_type(f.header.type) && (f.header.msg == 0 || f.header.seq == 0)) std::abort();
        (void)verify_frame(f, nullptr);
    }
}

void check_transport(fuzz::Pair& p) {
    const TransportStats& s = p.b.stats();
    if (p.sink_b.out_of_order || p.sink_a.out_of_order) std::abort();
    if (s.messages_delivered != p.sink_b.delivered) std::abort();
    if (p.a.in_flight() > Transport::kMaxWindow || p.b.in_flight() > Transport::kMaxWindow) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    static fuzz::Pair* pair = new fuzz::Pair();  // 2.4 MB: allocated once, reused
    std::span<const std::uint8_t> input(data + 1, size - 1);
    switch (data[0] % 3) {
    case 0:
        check_decoder(input);
        break;
    case 1:
        if (!pair->bring_up()) std::abort();
        pair->b.on_frame(input);
        pair->a.on_frame(input);
        pair->b.poll();
        pair->pump();
        check_transport(*pair);
        break;
    default: {
        if (!pair->bring_up()) std::abort();
        std::size_t at = 0;
        while (at + 18 <= input.size()) {
            FrameHeader h;
            const std::uint8_t type = input[at];
            h.type = static_cast<FrameType>(type);
            h.flags = input[at + 1];
            h.seq = static_cast<std::uint64_t>(input[at + 2] | input[at + 3] << 8);
            h.msg = static_cast<std::uint64_t>(input[at + 4] | input[at + 5] << 8);
            h.ack = static_cast<std::uint64_t>(input[at + 6] | input[at + 7] << 8);
            for (int i = 7; i >= 0; --i) h.ack_bitmap = h.ack_bitmap << 8 | input[at + 8 + static_cast<std::size_t>(i)];
            h.epoch = input[at + 16];
            std::size_t length = input[at + 17];
            at += 18;
            if (type == 0xfe) {
                pair->clock.now += length * 1'000'000;
                pair->a.poll();
                pair->b.poll();
                pair->pump();
            } else if (type == 0xff) {
                std::vector<std::uint8_t> payload(length, 0x5a);
                (void)pair->b.send(FrameType::data, 0, payload);
                pair->to_a.frames.clear();  // lost: the fuzzer's frames carry the acks
            } else {
                std::size_t n = length < input.size() - at ? length : input.size() - at;
                std::vector<std::uint8_t> frame = pair->seal_from_a(h, input.subspan(at, n));
                at += n;
                pair->b.on_frame(frame);
                pair->to_a.frames.clear();  // the backup's answers go nowhere
            }
            check_transport(*pair);
        }
        break;
    }
    }
    return 0;
}
