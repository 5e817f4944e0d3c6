// One replication-link frame on the wire (DESIGN.md §4): raw Ethernet, EtherType 0x88B5 (IEEE
// local experimental), no IP. Layout, all of it inside one Ethernet frame (FCS not included):
//
//   offset          size  what
//        0             6  destination MAC       \
//        6             6  source MAC             | authenticated (AAD)
//       12             2  EtherType 0x88B5 (BE)  |
//       14            56  frame header          /  (frame_header.hpp)
//       70             n  payload: encrypted, or in the clear for checksummed frames
//       70 + n        16  tag: ChaCha20-Poly1305 (RFC 8439 §2.8)
//
// A frame never exceeds 14 + MTU bytes: n <= MTU - 72, i.e. 1428 bytes at the standard MTU of
// 1500 and 8928 bytes with jumbo frames (9000), used when both sides announce it.
//
// decode_frame() checks every length and field before anything reads the payload and returns a
// reason for every rejection; it never reads outside the span it is given.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "hypervisor/net/mac_address.hpp"
#include "replication/link/frame_header.hpp"

namespace tandem::link {

inline constexpr std::uint16_t kEtherType = 0x88B5;
inline constexpr std::size_t kEthernetHeaderSize = 14;
inline constexpr std::size_t kFrameTagSize = 16;
inline constexpr std::size_t kFrameOverhead = kFrameHeaderSize + kFrameTagSize;  // inside the MTU
inline constexpr std::uint16_t kStandardMtu = 1500;
// The smallest MTU the link takes: the link over UDP/IPv4 (udp_envelope.hpp) carries its frames in
// 1500-byte IP packets less 42 bytes of envelope; 1280 is IPv6's minimum link MTU (RFC 8200 §5).
inline constexpr std::uint16_t kMinMtu = 1280;
inline constexpr std::uint16_t kJumboMtu = 9000;

constexpr std::size_t max_payload_for_mtu(std::size_t mtu) { return mtu - kFrameOverhead; }
constexpr std::size_t max_frame_for_mtu(std::size_t mtu) { return kEthernetHeaderSize + mtu; }

inline constexpr std::size_t kMinFrameSize = kEthernetHeaderSize + kFrameOverhead;  // empty payload
inline constexpr std::size_t kMaxFrameSize = max_frame_for_mtu(kJumboMtu);
inline constexpr std::size_t kMaxPayload = max_payload_for_mtu(kJumboMtu);
inline constexpr std::size_t kStandardMaxPayload = max_payload_for_mtu(kStandardMtu);
static_assert(kMinFrameSize == 86 && kStandardMaxPayload == 1428 && kMaxPayload == 8928);
static_assert(kMaxPayload <= 0xffff, "payload_length is 16 bits");

// HELLO and HELLO_ACK payloads (hello.hpp).
inline constexpr std::size_t kHelloPayloadSize = 32;
inline constexpr std::size_t kHelloAckPayloadSize = 32;

inline constexpr MacAddress kBroadcastMac{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};

constexpr bool same_mac(const MacAddress& a, const MacAddress& b) {
    for (std::size_t i = 0; i < 6; ++i) {
        if (a.bytes[i] != b.bytes[i]) return false;
    }
    return true;
}

struct EthernetHeader {
    MacAddress dst{};
    MacAddress src{};
    std::uint16_t ether_type = kEtherType;
};

void encode_ethernet(const EthernetHeader& e, std::span<std::uint8_t, kEthernetHeaderSize> out);
EthernetHeader decode_ethernet(std::span<const std::uint8_t, kEthernetHeaderSize> in);

enum class RejectReason : std::uint8_t {
    none,
    too_short,         // shorter than an Ethernet header + frame header + tag
    too_long,          // longer than 14 + the receiver's MTU
    not_tandem,        // another EtherType: not for the replication link at all
    bad_magic,
    version_mismatch,  // magic right, version not ours (value: the frame's version)
    unknown_type,
    reserved_flags,    // a flag bit this version does not define
    length_mismatch,   // payload_length disagrees with the frame's size
    bad_control_fields,  // HELLO/HELLO_ACK with nonzero seq/msg/ack/epoch fields
    missing_sequence,  // seq 0 on a frame that needs one
    message_number,    // msg 0 on a message, or nonzero on a control frame
    bad_payload_size,  // a control frame whose payload size is not the one its type has
    hello_not_plaintext,  // HELLO must carry the public checksum
};
inline constexpr std::size_t kRejectReasonCount = 14;

const char* reject_reason_text(RejectReason r);

struct DecodedFrame {
    EthernetHeader eth;
    FrameHeader header;
    std::span<const std::uint8_t> authenticated;  // Ethernet + frame header: the AAD of encrypted frames
    std::span<const std::uint8_t> body;           // everything before the tag: the AAD of checksummed frames
    std::span<const std::uint8_t> payload;        // as on the wire (ciphertext unless plaintext)
    std::span<const std::uint8_t> tag;            // kFrameTagSize bytes
    bool plaintext() const { return (header.flags & flags::plaintext) != 0; }
};

struct FrameDecode {
    RejectReason reason = RejectReason::none;
    std::uint64_t value = 0;  // the offending number (a length, a version, a type)
    DecodedFrame frame{};
    bool ok() const { return reason == RejectReason::none; }
};

// Structural validation of a received frame. `max_frame_size` is 14 + the receiver's MTU.
FrameDecode decode_frame(std::span<const std::uint8_t> bytes, std::size_t max_frame_size = kMaxFrameSize,
                         std::uint8_t version = kProtocolVersion);

}  // namespace tandem::link
