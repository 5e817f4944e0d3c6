#include "hypervisor/net/udp_ipv4.hpp"

#include "hypervisor/util/bytes.hpp"

namespace tandem::net {
namespace {

constexpr std::size_t kEthernet = 14;
constexpr std::size_t kMaxIpPacket = 65535;

std::uint32_t add_words(std::span<const std::uint8_t> bytes, std::uint32_t sum) {
    std::size_t i = 0;
    for (; i + 1 < bytes.size(); i += 2) sum += static_cast<std::uint32_t>(bytes[i] << 8 | bytes[i + 1]);
    if (i < bytes.size()) sum += static_cast<std::uint32_t>(bytes[i] << 8);
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return sum;
}

// RFC 768: source and destination address, zero and protocol, UDP length.
std::uint32_t pseudo_header_sum(Ipv4Address source, Ipv4Address destination, std::size_t udp_length) {
    std::uint32_t sum = (source >> 16) + (source & 0xffff) + (destination >> 16) + (destination & 0xffff);
    return sum + kIpProtocolUdp + static_cast<std::uint32_t>(udp_length);
}

}  // namespace

std::uint16_t internet_checksum(std::span<const std::uint8_t> bytes, std::uint32_t sum) {
    return static_cast<std::uint16_t>(~add_words(bytes, sum) & 0xffff);
}

std::size_t build_udp_ipv4(std::span<std::uint8_t> out, const UdpIpv4Route& route, std::uint16_t ip_id,
                           std::span<const std::uint8_t> payload) {
    std::size_t udp_length = kUdpHeaderSize + payload.size();
    std::size_t ip_length = kIpv4HeaderSize + udp_length;
    if (ip_length > kMaxIpPacket || out.size() < kEthernet + ip_length) return 0;
    for (std::size_t i = 0; i < 6; ++i) {
        out[i] = route.next_hop_mac.bytes[i];
        out[6 + i] = route.source_mac.bytes[i];
    }
    store_be<std::uint16_t>(out, 12, kEtherTypeIpv4);
    std::span<std::uint8_t> ip = out.subspan(kEthernet, kIpv4HeaderSize);
    ip[0] = 0x45;  // version 4, header of 5 words
    ip[1] = 0;     // DSCP/ECN
    store_be<std::uint16_t>(ip, 2, static_cast<std::uint16_t>(ip_length));
    store_be<std::uint16_t>(ip, 4, ip_id);
    store_be<std::uint16_t>(ip, 6, 0x4000);  // don't fragment: a link frame is never cut
    ip[8] = route.ttl;
    ip[9] = kIpProtocolUdp;
    store_be<std::uint16_t>(ip, 10, 0);
    store_be<std::uint32_t>(ip, 12, route.source_ip);
    store_be<std::uint32_t>(ip, 16, route.destination_ip);
    store_be<std::uint16_t>(ip, 10, internet_checksum(ip));
    std::span<std::uint8_t> udp = out.subspan(kEthernet + kIpv4HeaderSize, udp_length);
    store_be<std::uint16_t>(udp, 0, route.source_port);
    store_be<std::uint16_t>(udp, 2, route.destination_port);
    store_be<std::uint16_t>(udp, 4, static_cast<std::uint16_t>(udp_length));
    store_be<std::uint16_t>(udp, 6, 0);
    for (std::size_t i = 0; i < payload.size(); ++i) udp[kUdpHeaderSize + i] = payload[i];
    std::uint16_t check = internet_checksum(udp, pseudo_header_sum(route.source_ip, route.destination_ip, udp_length));
    store_be<std::uint16_t>(udp, 6, check == 0 ? 0xffff : check);  // RFC 768: a computed 0 is sent as all ones
    return kEthernet + ip_length;
}

UdpIpv4Parse parse_udp_ipv4(std::span<const std::uint8_t> frame) {
    UdpIpv4Parse r;
    if (frame.size() < kEthernet || load_be<std::uint16_t>(frame, 12) != kEtherTypeIpv4) {
        r.reject = UdpIpv4Reject::not_ipv4;
        return r;
    }
    if (frame.size() < kEthernet + kIpv4HeaderSize) {
        r.reject = UdpIpv4Reject::bad_ip_header;
        return r;
    }
    std::span<const std::uint8_t> packet = frame.subspan(kEthernet);
    std::size_t header = static_cast<std::size_t>(packet[0] & 0x0f) * 4;
    std::size_t total = load_be<std::uint16_t>(packet, 2);
    // The frame may carry Ethernet padding after the packet, never less than the packet.
    if ((packet[0] >> 4) != 4 || header < kIpv4HeaderSize || total < header || total > packet.size()) {
        r.reject = UdpIpv4Reject::bad_ip_header;
        return r;
    }
    packet = packet.first(total);
    if (internet_checksum(packet.first(header)) != 0) {
        r.reject = UdpIpv4Reject::bad_ip_checksum;
        return r;
    }
    if ((load_be<std::uint16_t>(packet, 6) & 0x3fff) != 0) {  // MF set or a fragment offset
        r.reject = UdpIpv4Reject::fragment;
        return r;
    }
    if (packet[9] != kIpProtocolUdp) {
        r.reject = UdpIpv4Reject::not_udp;
        return r;
    }
    std::span<const std::uint8_t> udp = packet.subspan(header);
    if (udp.size() < kUdpHeaderSize || load_be<std::uint16_t>(udp, 4) != udp.size()) {
        r.reject = UdpIpv4Reject::bad_udp_length;
        return r;
    }
    Ipv4Address source = load_be<std::uint32_t>(packet, 12), destination = load_be<std::uint32_t>(packet, 16);
    if (load_be<std::uint16_t>(udp, 6) != 0 &&  // RFC 768: zero means the sender computed none
        internet_checksum(udp, pseudo_header_sum(source, destination, udp.size())) != 0) {
        r.reject = UdpIpv4Reject::bad_udp_checksum;
        return r;
    }
    r.datagram = {source, destination, load_be<std::uint16_t>(udp, 0), load_be<std::uint16_t>(udp, 2),
                  udp.subspan(kUdpHeaderSize)};
    return r;
}

}  // namespace tandem::net
