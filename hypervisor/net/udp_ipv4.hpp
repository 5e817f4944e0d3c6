// UDP over IPv4 over Ethernet (RFC 768, RFC 791): the envelope the replication link's frames
// travel in when the two machines are on different subnets (issue 15). One datagram per frame,
// never fragmented (the link's frames are sized to fit: the transport's MTU is the NIC's less
// kUdpIpv4Overhead), with the IPv4 header checksum (RFC 1071) and the UDP checksum over the
// pseudo-header. Received frames are untrusted: parse_udp_ipv4 checks every length and checksum
// and says why it refuses.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "hypervisor/net/arp.hpp"
#include "hypervisor/net/mac_address.hpp"

namespace tandem::net {

inline constexpr std::size_t kIpv4HeaderSize = 20;  // without options (what build writes)
inline constexpr std::size_t kUdpHeaderSize = 8;
inline constexpr std::size_t kUdpIpv4Overhead = 14 + kIpv4HeaderSize + kUdpHeaderSize;
inline constexpr std::uint8_t kIpProtocolUdp = 17;

struct UdpIpv4Route {
    MacAddress source_mac{}, next_hop_mac{};
    Ipv4Address source_ip = 0, destination_ip = 0;
    std::uint16_t source_port = 0, destination_port = 0;
    std::uint8_t ttl = 64;
};

// Writes the frame (Ethernet, IPv4, UDP, payload) into `out`; its size, or 0 when it does not
// fit `out` or an IPv4 packet (65535 bytes).
std::size_t build_udp_ipv4(std::span<std::uint8_t> out, const UdpIpv4Route& route, std::uint16_t ip_id,
                           std::span<const std::uint8_t> payload);

enum class UdpIpv4Reject : std::uint8_t {
    none,
    not_ipv4,        // another EtherType (ARP is parsed by parse_arp)
    bad_ip_header,   // version, header length or total length inconsistent with the frame
    bad_ip_checksum,
    fragment,        // more fragments, or an offset: the link never sends fragments
    not_udp,
    bad_udp_length,
    bad_udp_checksum,
};

struct UdpIpv4Datagram {
    Ipv4Address source_ip = 0, destination_ip = 0;
    std::uint16_t source_port = 0, destination_port = 0;
    std::span<const std::uint8_t> payload;  // inside the frame given
};

struct UdpIpv4Parse {
    UdpIpv4Reject reject = UdpIpv4Reject::none;
    UdpIpv4Datagram datagram;
    bool ok() const { return reject == UdpIpv4Reject::none; }
};

UdpIpv4Parse parse_udp_ipv4(std::span<const std::uint8_t> frame);

// The Internet checksum (RFC 1071): the ones' complement of the ones' complement sum of the
// 16-bit words (an odd last byte padded with zero), continuing from `sum` (a partial sum).
std::uint16_t internet_checksum(std::span<const std::uint8_t> bytes, std::uint32_t sum = 0);

}  // namespace tandem::net
