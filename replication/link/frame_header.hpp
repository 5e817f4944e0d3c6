// The replication link's frame header (DESIGN.md §4): 56 bytes after the Ethernet header,
// little-endian, written and read field by field at fixed offsets (never by copying a struct
// onto the wire). Layout, version 1:
//
//   offset size field
//        0    2 magic           0x5444 ("DT" on the wire: 44 54)
//        2    1 version         kProtocolVersion
//        3    1 type            FrameType
//        4    2 flags           FrameFlags (unknown bits must be zero)
//        6    2 payload_length  bytes of payload between this header and the 16-byte tag
//        8    8 session         the sender's session id (random, chosen at each start)
//       16    8 epoch           replication epoch the payload belongs to (0 for control frames)
//       24    8 seq             per-frame sequence number: nonce and anti-replay (0 only for
//                               HELLO / HELLO_ACK)
//       32    8 msg             reliable message number (1, 2, ...) of message frames; 0 for
//                               control frames
//       40    8 ack             cumulative ack: every message <= ack has been received
//       48    8 ack_bitmap      selective ack: bit i set = message ack + 2 + i received
//
// The version-invariant part, which every future version keeps so that a mismatch can be
// reported instead of misparsed: the EtherType, bytes 0-2 (magic, version), and for HELLO and
// HELLO_ACK frames the 16-byte checksum tag at the very end under the public key (frame_seal.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace tandem::link {

inline constexpr std::uint16_t kMagic = 0x5444;
inline constexpr std::uint8_t kProtocolVersion = 1;
inline constexpr std::size_t kFrameHeaderSize = 56;

enum class FrameType : std::uint8_t {
    hello = 1,         // handshake parameters (in the clear, tagged under the handshake key)
    hello_ack = 2,     // handshake answer: accepted (under the traffic key) or refused with a reason
    pages = 3,         // guest page frames of an epoch
    cpu_state = 4,     // vCPU state of an epoch
    device_state = 5,  // device-model state of an epoch
    epoch_end = 6,     // end of an epoch: counts and digest
    epoch_ack = 7,     // the backup has applied epoch N (DESIGN §3 step 6, "ACK(N)")
    ack = 8,           // transport: cumulative + selective acknowledgement only
    nack = 9,          // transport: an ack sent at once for a new hole; its bitmap shows what is missing
    heartbeat = 10,    // transport: liveness when idle (also carries the ack fields)
    forward = 11,      // a client frame forwarded primary -> backup (lockstep)
    migrate_begin = 12,   // reserved for live migration
    migrate_pages = 13,   // reserved for live migration
    migrate_commit = 14,  // reserved for live migration
    data = 15,         // generic payload (link self-test)
};
inline constexpr std::uint8_t kFrameTypeMax = 15;

// Reliable, in-order messages carry a message number; control frames do not.
constexpr bool is_message_type(FrameType t) {
    switch (t) {
    case FrameType::hello:
    case FrameType::hello_ack:
    case FrameType::ack:
    case FrameType::nack:
    case FrameType::heartbeat:
        return false;
    default:
        return true;
    }
}

const char* frame_type_name(FrameType t);

namespace flags {
// The payload is sent in the clear and the tag is the public checksum (frame_seal.hpp): every
// HELLO, a refusing HELLO_ACK, and every frame of an insecure_link.
inline constexpr std::uint16_t plaintext = 1u << 0;
inline constexpr std::uint16_t known = plaintext;
}  // namespace flags

struct FrameHeader {
    std::uint16_t magic = kMagic;
    std::uint8_t version = kProtocolVersion;
    FrameType type = FrameType::data;
    std::uint16_t flags = 0;
    std::uint16_t payload_length = 0;
    std::uint64_t session = 0;
    std::uint64_t epoch = 0;
    std::uint64_t seq = 0;
    std::uint64_t msg = 0;
    std::uint64_t ack = 0;
    std::uint64_t ack_bitmap = 0;
};

// The wire layout as a packed struct of byte arrays: it documents the offsets above and lets
// the compiler check them; encode/decode below still go field by field, little-endian.
struct [[gnu::packed]] FrameHeaderLayout {
    std::uint8_t magic[2];
    std::uint8_t version;
    std::uint8_t type;
    std::uint8_t flags[2];
    std::uint8_t payload_length[2];
    std::uint8_t session[8];
    std::uint8_t epoch[8];
    std::uint8_t seq[8];
    std::uint8_t msg[8];
    std::uint8_t ack[8];
    std::uint8_t ack_bitmap[8];
};
static_assert(sizeof(FrameHeaderLayout) == kFrameHeaderSize);
static_assert(__builtin_offsetof(FrameHeaderLayout, version) == 2);
static_assert(__builtin_offsetof(FrameHeaderLayout, type) == 3);
static_assert(__builtin_offsetof(FrameHeaderLayout, flags) == 4);
static_assert(__builtin_offsetof(FrameHeaderLayout, payload_length) == 6);
static_assert(__builtin_offsetof(FrameHeaderLayout, session) == 8);
static_assert(__builtin_offsetof(FrameHeaderLayout, epoch) == 16);
static_assert(__builtin_offsetof(FrameHeaderLayout, seq) == 24);
static_assert(__builtin_offsetof(FrameHeaderLayout, msg) == 32);
static_assert(__builtin_offsetof(FrameHeaderLayout, ack) == 40);
static_assert(__builtin_offsetof(FrameHeaderLayout, ack_bitmap) == 48);

void encode_header(const FrameHeader& h, std::span<std::uint8_t, kFrameHeaderSize> out);
// Reads the fields as they are; validation is decode_frame()'s job (frame.hpp).
FrameHeader decode_header(std::span<const std::uint8_t, kFrameHeaderSize> in);

}  // namespace tandem::link
