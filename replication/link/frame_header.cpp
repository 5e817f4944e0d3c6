#include "replication/link/frame_header.hpp"

#include "hypervisor/util/bytes.hpp"

namespace tandem::link {
namespace {

template <class T>
void store_le(std::span<std::uint8_t> out, std::size_t offset, T value) {
    for (std::size_t i = 0; i < sizeof(T); ++i) out[offset + i] = static_cast<std::uint8_t>(value >> (8 * i));
}

}  // namespace

const char* frame_type_name(FrameType t) {
    switch (t) {
    case FrameType::hello: return "HELLO";
    case FrameType::hello_ack: return "HELLO_ACK";
    case FrameType::pages: return "PAGES";
    case FrameType::cpu_state: return "CPU_STATE";
    case FrameType::device_state: return "DEVICE_STATE";
    case FrameType::epoch_end: return "EPOCH_END";
    case FrameType::epoch_ack: return "EPOCH_ACK";
    case FrameType::ack: return "ACK";
    case FrameType::nack: return "NACK";
    case FrameType::heartbeat: return "HEARTBEAT";
    case FrameType::forward: return "FORWARD";
    case FrameType::migrate_begin: return "MIGRATE_BEGIN";
    case FrameType::migrate_pages: return "MIGRATE_PAGES";
    case FrameType::migrate_commit: return "MIGRATE_COMMIT";
    case FrameType::data: return "DATA";
    }
    return "unknown";
}

void encode_header(const FrameHeader& h, std::span<std::uint8_t, kFrameHeaderSize> out) {
    store_le<std::uint16_t>(out, 0, h.magic);
    out[2] = h.version;
    out[3] = static_cast<std::uint8_t>(h.type);
    store_le<std::uint16_t>(out, 4, h.flags);
    store_le<std::uint16_t>(out, 6, h.payload_length);
    store_le<std::uint64_t>(out, 8, h.session);
    store_le<std::uint64_t>(out, 16, h.epoch);
    store_le<std::uint64_t>(out, 24, h.seq);
    store_le<std::uint64_t>(out, 32, h.msg);
    store_le<std::uint64_t>(out, 40, h.ack);
    store_le<std::uint64_t>(out, 48, h.ack_bitmap);
}

FrameHeader decode_header(std::span<const std::uint8_t, kFrameHeaderSize> in) {
    FrameHeader h;
    h.magic = load_le<std::uint16_t>(in, 0);
    h.version = in[2];
    h.type = static_cast<FrameType>(in[3]);
    h.flags = load_le<std::uint16_t>(in, 4);
    h.payload_length = load_le<std::uint16_t>(in, 6);
    h.session = load_le<std::uint64_t>(in, 8);
    h.epoch = load_le<std::uint64_t>(in, 16);
    h.seq = load_le<std::uint64_t>(in, 24);
    h.msg = load_le<std::uint64_t>(in, 32);
    h.ack = load_le<std::uint64_t>(in, 40);
    h.ack_bitmap = load_le<std::uint64_t>(in, 48);
    return h;
}

}  // namespace tandem::link
