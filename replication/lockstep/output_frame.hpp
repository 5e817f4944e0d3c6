// What the lockstep comparator (output_comparator.hpp, issue 13) needs to know about a frame a
// guest sent: the flow it belongs to and the part of it that is compared. Only what the two
// guests must produce alike is compared: TCP's byte stream at its sequence numbers and its
// SYN/FIN/RST, UDP payloads, ICMP messages. Headers that legitimately differ between two runs of
// the same guest (IP ID, TTL, checksums, TCP window and options such as timestamps) are not.
// Anything else (ARP, IPv6, VLAN tags, IPv4 fragments, malformed headers) is `uncompared`.
// The bytes come from the guest: every offset is checked against the frame (RFC 791, RFC 9293
// §3.1, RFC 768, RFC 792).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace tandem::lockstep {

enum class FrameKind : std::uint8_t { uncompared, tcp, udp, icmp };

// One direction of a conversation, as the guest sends it. ICMP flows have ports 0.
struct FlowKey {
    std::uint32_t source_ip = 0, destination_ip = 0;
    std::uint16_t source_port = 0, destination_port = 0;
    std::uint8_t protocol = 0;
    bool operator==(const FlowKey&) const = default;
};

namespace tcp_flag {
constexpr std::uint8_t fin = 0x01, syn = 0x02, rst = 0x04, psh = 0x08, ack = 0x10;
}

struct OutputFrame {
    FrameKind kind = FrameKind::uncompared;
    FlowKey flow{};
    std::uint32_t seq = 0, ack = 0;  // TCP only
    std::uint8_t tcp_flags = 0;
    std::uint16_t icmp_type_code = 0;  // ICMP only: compared with the message
    // The compared bytes inside the frame: TCP and UDP payload, ICMP message after its checksum.
    std::uint16_t payload_offset = 0, payload_length = 0;
    std::uint16_t transport_offset = 0;  // the TCP, UDP or ICMP header inside the frame

    bool has(std::uint8_t flag) const { return (tcp_flags & flag) != 0; }
    // TCP sequence space: SYN and FIN take one number each (RFC 9293 §3.4).
    std::uint32_t data_seq() const { return seq + (has(tcp_flag::syn) ? 1u : 0u); }
    std::uint32_t data_end() const { return data_seq() + payload_length; }
    std::uint32_t space_end() const { return data_end() + (has(tcp_flag::fin) ? 1u : 0u); }
    // An acknowledgement and nothing else: no data, no SYN, FIN or RST.
    bool pure_ack() const {
        return kind == FrameKind::tcp && payload_length == 0 &&
               (tcp_flags & (tcp_flag::syn | tcp_flag::fin | tcp_flag::rst)) == 0;
    }
};

OutputFrame classify_output_frame(std::span<const std::uint8_t> frame);

// TCP sequence numbers compared modulo 2^32 (RFC 9293 §3.4, RFC 1982).
constexpr bool seq_before(std::uint32_t a, std::uint32_t b) { return static_cast<std::int32_t>(a - b) < 0; }
constexpr bool seq_at_or_before(std::uint32_t a, std::uint32_t b) { return !seq_before(b, a); }

}  // namespace tandem::lockstep
