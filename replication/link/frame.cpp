#include "replication/link/frame.hpp"

namespace tandem::link {

void encode_ethernet(const EthernetHeader& e, std::span<std::uint8_t, kEthernetHeaderSize> out) {
    for (std::size_t i = 0; i < 6; ++i) {
        out[i] = e.dst.bytes[i];
        out[6 + i] = e.src.bytes[i];
    }
    out[12] = static_cast<std::uint8_t>(e.ether_type >> 8);  // network byte order
    out[13] = static_cast<std::uint8_t>(e.ether_type);
}

EthernetHeader decode_ethernet(std::span<const std::uint8_t, kEthernetHeaderSize> in) {
    EthernetHeader e;
    for (std::size_t i = 0; i < 6; ++i) {
        e.dst.bytes[i] = in[i];
        e.src.bytes[i] = in[6 + i];
    }
    e.ether_type = static_cast<std::uint16_t>(in[12] << 8 | in[13]);
    return e;
}

const char* reject_reason_text(RejectReason r) {
    switch (r) {
    case RejectReason::none: return "accepted";
    case RejectReason::too_short: return "frame too short";
    case RejectReason::too_long: return "frame longer than the MTU allows";
    case RejectReason::not_tandem: return "not a replication-link EtherType";
    case RejectReason::bad_magic: return "bad magic";
    case RejectReason::version_mismatch: return "protocol version mismatch";
    case RejectReason::unknown_type: return "unknown frame type";
    case RejectReason::reserved_flags: return "reserved flag bits set";
    case RejectReason::length_mismatch: return "payload length disagrees with the frame size";
    case RejectReason::bad_control_fields: return "handshake frame with message, acknowledgement or epoch fields";
    case RejectReason::missing_sequence: return "sequence number 0";
    case RejectReason::message_number: return "message number wrong for the frame type";
    case RejectReason::bad_payload_size: return "payload size wrong for the frame type";
    case RejectReason::hello_not_plaintext: return "HELLO without the public checksum";
    }
    return "unknown reason";
}

FrameDecode decode_frame(std::span<const std::uint8_t> bytes, std::size_t max_frame_size, std::uint8_t version) {
    FrameDecode out;
    auto reject = [&out](RejectReason r, std::uint64_t v) {
        out.reason = r;
        out.value = v;
        return out;
    };
    const std::size_t size = bytes.size();
    if (size < kEthernetHeaderSize) return reject(RejectReason::too_short, size);
    out.frame.eth = decode_ethernet(bytes.first<kEthernetHeaderSize>());
    if (out.frame.eth.ether_type != kEtherType) return reject(RejectReason::not_tandem, out.frame.eth.ether_type);
    // The version-invariant prefix first, so a peer of another version is named as such.
    if (size < kEthernetHeaderSize + 3) return reject(RejectReason::too_short, size);
    auto magic = static_cast<std::uint16_t>(bytes[kEthernetHeaderSize] | bytes[kEthernetHeaderSize + 1] << 8);
    if (magic != kMagic) return reject(RejectReason::bad_magic, magic);
    if (bytes[kEthernetHeaderSize + 2] != version) return reject(RejectReason::version_mismatch, bytes[kEthernetHeaderSize + 2]);
    if (size < kMinFrameSize) return reject(RejectReason::too_short, size);
    if (size > max_frame_size || size > kMaxFrameSize) return reject(RejectReason::too_long, size);

    const FrameHeader h = decode_header(bytes.subspan<kEthernetHeaderSize, kFrameHeaderSize>());
    out.frame.header = h;
    if (h.type == static_cast<FrameType>(0) || static_cast<std::uint8_t>(h.type) > kFrameTypeMax) {
        return reject(RejectReason::unknown_type, static_cast<std::uint8_t>(h.type));
    }
    if ((h.flags & ~flags::known) != 0) return reject(RejectReason::reserved_flags, h.flags);
    if (h.payload_length != size - kMinFrameSize) return reject(RejectReason::length_mismatch, h.payload_length);

    switch (h.type) {
    case FrameType::hello:
    case FrameType::hello_ack: {
        // A sequence number like every frame (it is the nonce of the handshake key's tag), but
        // no message, acknowledgement or epoch.
        if (h.seq == 0) return reject(RejectReason::missing_sequence, 0);
        if (h.msg != 0 || h.ack != 0 || h.ack_bitmap != 0 || h.epoch != 0) {
            return reject(RejectReason::bad_control_fields, h.msg | h.ack | h.epoch);
        }
        std::size_t expected = h.type == FrameType::hello ? kHelloPayloadSize : kHelloAckPayloadSize;
        if (h.payload_length != expected) return reject(RejectReason::bad_payload_size, h.payload_length);
        if (h.type == FrameType::hello && (h.flags & flags::plaintext) == 0) {
            return reject(RejectReason::hello_not_plaintext, h.flags);
        }
        break;
    }
    case FrameType::ack:
    case FrameType::nack:
    case FrameType::heartbeat:
        if (h.seq == 0) return reject(RejectReason::missing_sequence, 0);
        if (h.msg != 0) return reject(RejectReason::message_number, h.msg);
        if (h.payload_length != 0) return reject(RejectReason::bad_payload_size, h.payload_length);
        break;
    default:  // messages
        if (h.seq == 0) return reject(RejectReason::missing_sequence, 0);
        if (h.msg == 0) return reject(RejectReason::message_number, 0);
        break;
    }

    const std::size_t payload_at = kEthernetHeaderSize + kFrameHeaderSize;
    out.frame.authenticated = bytes.first(payload_at);
    out.frame.payload = bytes.subspan(payload_at, h.payload_length);
    out.frame.body = bytes.first(size - kFrameTagSize);
    out.frame.tag = bytes.subspan(size - kFrameTagSize, kFrameTagSize);
    return out;
}

}  // namespace tandem::link
