#include "replication/lockstep/output_frame.hpp"

#include "hypervisor/util/bytes.hpp"

namespace tandem::lockstep {
namespace {

constexpr std::size_t kEthernetHeader = 14;
constexpr std::uint16_t kEtherTypeIpv4 = 0x0800;
constexpr std::uint8_t kProtocolIcmp = 1, kProtocolTcp = 6, kProtocolUdp = 17;
constexpr std::size_t kMinIpv4Header = 20, kMinTcpHeader = 20, kUdpHeader = 8, kIcmpHeader = 8;

// The transport header and payload of `ip` (the IPv4 packet without the frame's padding) from
// `at`; false leaves the frame uncompared.
bool classify_tcp(std::span<const std::uint8_t> ip, std::size_t at, OutputFrame& f) {
    if (!fits(ip.size(), at, kMinTcpHeader)) return false;
    std::size_t header = static_cast<std::size_t>(ip[at + 12] >> 4) * 4;
    if (header < kMinTcpHeader || !fits(ip.size(), at, header)) return false;
    f.flow.source_port = load_be<std::uint16_t>(ip, at);
    f.flow.destination_port = load_be<std::uint16_t>(ip, at + 2);
    f.seq = load_be<std::uint32_t>(ip, at + 4);
    f.ack = load_be<std::uint32_t>(ip, at + 8);
    f.tcp_flags = ip[at + 13] & (tcp_flag::fin | tcp_flag::syn | tcp_flag::rst | tcp_flag::psh | tcp_flag::ack);
    f.payload_offset = static_cast<std::uint16_t>(at + header);
    f.payload_length = static_cast<std::uint16_t>(ip.size() - at - header);
    return true;
}

bool classify_udp(std::span<const std::uint8_t> ip, std::size_t at, OutputFrame& f) {
    if (!fits(ip.size(), at, kUdpHeader)) return false;
    std::size_t length = load_be<std::uint16_t>(ip, at + 4);
    if (length < kUdpHeader || !fits(ip.size(), at, length)) return false;
    f.flow.source_port = load_be<std::uint16_t>(ip, at);
    f.flow.destination_port = load_be<std::uint16_t>(ip, at + 2);
    f.payload_offset = static_cast<std::uint16_t>(at + kUdpHeader);
    f.payload_length = static_cast<std::uint16_t>(length - kUdpHeader);
    return true;
}

// An ICMP message is compared whole but for its checksum: type and code, then bytes 4 onwards
// (identifier and sequence of an echo, or the quoted header of an error).
bool classify_icmp(std::span<const std::uint8_t> ip, std::size_t at, OutputFrame& f) {
    if (!fits(ip.size(), at, kIcmpHeader)) return false;
    f.icmp_type_code = load_be<std::uint16_t>(ip, at);
    f.payload_offset = static_cast<std::uint16_t>(at + 4);
    f.payload_length = static_cast<std::uint16_t>(ip.size() - at - 4);
    return true;
}

}  // namespace

OutputFrame classify_output_frame(std::span<const std::uint8_t> frame) {
    OutputFrame f;
    if (frame.size() < kEthernetHeader + kMinIpv4Header || frame.size() > 0xffff) return f;
    if (load_be<std::uint16_t>(frame, 12) != kEtherTypeIpv4 || (frame[kEthernetHeader] >> 4) != 4) return f;
    std::size_t header = static_cast<std::size_t>(frame[kEthernetHeader] & 0x0f) * 4;
    std::size_t total = load_be<std::uint16_t>(frame, kEthernetHeader + 2);
    // Frames shorter than 60 bytes are padded: the IPv4 total length says where the packet ends.
    if (header < kMinIpv4Header || total < header || !fits(frame.size(), kEthernetHeader, total)) return f;
    std::uint16_t fragment = load_be<std::uint16_t>(frame, kEthernetHeader + 6);
    if ((fragment & 0x3fff) != 0) return f;  // MF set or an offset: a fragment is not compared
    auto ip = frame.subspan(0, kEthernetHeader + total);
    std::size_t at = kEthernetHeader + header;
    OutputFrame parsed;
    parsed.flow.source_ip = load_be<std::uint32_t>(ip, kEthernetHeader + 12);
    parsed.flow.destination_ip = load_be<std::uint32_t>(ip, kEthernetHeader + 16);
    parsed.flow.protocol = ip[kEthernetHeader + 9];
    parsed.transport_offset = static_cast<std::uint16_t>(at);
    bool ok = false;
    switch (parsed.flow.protocol) {
    case kProtocolTcp: parsed.kind = FrameKind::tcp; ok = classify_tcp(ip, at, parsed); break;
    case kProtocolUdp: parsed.kind = FrameKind::udp; ok = classify_udp(ip, at, parsed); break;
    case kProtocolIcmp: parsed.kind = FrameKind::icmp; ok = classify_icmp(ip, at, parsed); break;
    default: break;
    }
    return ok ? parsed : f;
}

}  // namespace tandem::lockstep
