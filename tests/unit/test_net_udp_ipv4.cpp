// UDP/IPv4 and ARP for the replication link across routers (issue 15): frames built by tandem
// checked against the RFCs' own examples and an independent reading of the headers; frames from
// the network refused for every inconsistency, with the reason.
#include <doctest/doctest.h>

#include <array>
#include <vector>

#include "hypervisor/net/arp.hpp"
#include "hypervisor/net/udp_ipv4.hpp"

using namespace tandem;
using namespace tandem::net;

namespace {

constexpr MacAddress kOwnMac{{0x52, 0x54, 0x00, 0x00, 0x01, 0x01}};
constexpr MacAddress kGatewayMac{{0x02, 0x00, 0x00, 0x00, 0x00, 0xfe}};
constexpr Ipv4Address kOwnIp = 0x0a010002;      // 10.1.0.2
constexpr Ipv4Address kGatewayIp = 0x0a010001;  // 10.1.0.1
constexpr Ipv4Address kPeerIp = 0x0a020002;     // 10.2.0.2

UdpIpv4Route route() {
    return UdpIpv4Route{kOwnMac, kGatewayMac, kOwnIp, kPeerIp, 7455, 7455, 64};
}

std::vector<std::uint8_t> datagram(std::size_t payload_bytes) {
    std::vector<std::uint8_t> payload(payload_bytes);
    for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<std::uint8_t>(i * 7 + 3);
    std::vector<std::uint8_t> frame(kUdpIpv4Overhead + payload_bytes);
    REQUIRE(build_udp_ipv4(frame, route(), 0x1234, payload) == frame.size());
    return frame;
}

// Recomputes a 16-bit ones' complement sum word by word, independently of internet_checksum.
std::uint16_t reference_sum(const std::vector<std::uint8_t>& bytes) {
    std::uint64_t sum = 0;
    for (std::size_t i = 0; i < bytes.size(); i += 2) {
        sum += static_cast<std::uint64_t>(bytes[i]) << 8 | (i + 1 < bytes.size() ? bytes[i + 1] : 0);
    }
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<std::uint16_t>(sum);
}

}  // namespace

TEST_CASE("internet checksum: RFC 1071's example and a known IPv4 header") {
    const std::uint8_t rfc1071[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};  // §3: sum ddf2
    CHECK(internet_checksum(rfc1071) == static_cast<std::uint16_t>(~0xddf2));
    // 192.168.0.1 -> 192.168.0.199, UDP, TTL 64, length 0x73: checksum b861.
    const std::uint8_t header[] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                                   0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
    CHECK(internet_checksum(header) == 0xb861);
    const std::uint8_t odd[] = {0x01, 0x02, 0x03};  // the last byte padded with zero
    CHECK(internet_checksum(odd) == static_cast<std::uint16_t>(~(0x0102 + 0x0300)));
}

TEST_CASE("udp/ipv4: a built frame reads back, with every header field as RFC 791 and RFC 768 place it") {
    for (std::size_t size : {0u, 1u, 37u, 1458u}) {
        CAPTURE(size);
        std::vector<std::uint8_t> frame = datagram(size);
        CHECK(frame[12] == 0x08);
        CHECK(frame[13] == 0x00);
        CHECK(frame[14] == 0x45);                                     // IPv4, 20-byte header
        CHECK((frame[16] << 8 | frame[17]) == 28 + static_cast<int>(size));  // total length
        CHECK((frame[18] << 8 | frame[19]) == 0x1234);                // identification
        CHECK(frame[20] == 0x40);                                     // don't fragment
        CHECK(frame[22] == 64);                                       // TTL
        CHECK(frame[23] == 17);                                       // UDP
        CHECK(reference_sum(std::vector<std::uint8_t>(frame.begin() + 14, frame.begin() + 34)) == 0xffff);
        // UDP: the pseudo-header (addresses, protocol, length) and the datagram sum to all ones.
        std::vector<std::uint8_t> pseudo = {0x0a, 0x01, 0x00, 0x02, 0x0a, 0x02, 0x00, 0x02, 0, 17,
                                            static_cast<std::uint8_t>((8 + size) >> 8),
                                            static_cast<std::uint8_t>(8 + size)};
        pseudo.insert(pseudo.end(), frame.begin() + 34, frame.end());
        CHECK(reference_sum(pseudo) == 0xffff);
        UdpIpv4Parse p = parse_udp_ipv4(frame);
        REQUIRE(p.ok());
        CHECK(p.datagram.source_ip == kOwnIp);
        CHECK(p.datagram.destination_ip == kPeerIp);
        CHECK(p.datagram.source_port == 7455);
        CHECK(p.datagram.destination_port == 7455);
        CHECK(std::vector<std::uint8_t>(p.datagram.payload.begin(), p.datagram.payload.end()) ==
              std::vector<std::uint8_t>(frame.begin() + 42, frame.end()));
    }
    std::vector<std::uint8_t> small(41);
    std::vector<std::uint8_t> payload(0);
    CHECK(build_udp_ipv4(small, route(), 1, payload) == 0);  // does not fit: nothing written
}

TEST_CASE("udp/ipv4: Ethernet padding after the packet is not payload; options are skipped") {
    std::vector<std::uint8_t> frame = datagram(4);
    frame.resize(60, 0);  // padded to Ethernet's minimum
    UdpIpv4Parse p = parse_udp_ipv4(frame);
    REQUIRE(p.ok());
    CHECK(p.datagram.payload.size() == 4);

    // The same packet with a 4-byte option (NOP x4): header of 6 words, checksum recomputed.
    std::vector<std::uint8_t> with = datagram(4);
    with.insert(with.begin() + 34, {0x01, 0x01, 0x01, 0x01});
    with[14] = 0x46;
    with[17] = static_cast<std::uint8_t>(with[17] + 4);
    with[24] = with[25] = 0;
    std::uint16_t check = internet_checksum(std::span<const std::uint8_t>(with).subspan(14, 24));
    with[24] = static_cast<std::uint8_t>(check >> 8);
    with[25] = static_cast<std::uint8_t>(check);
    p = parse_udp_ipv4(with);
    REQUIRE(p.ok());
    CHECK(p.datagram.payload.size() == 4);
    CHECK(p.datagram.payload[0] == 3);
}

TEST_CASE("udp/ipv4: every inconsistency is refused with its reason") {
    auto refused = [](std::vector<std::uint8_t> frame) { return parse_udp_ipv4(frame).reject; };
    std::vector<std::uint8_t> good = datagram(16);
    auto with = [&](std::size_t at, std::uint8_t value) {
        std::vector<std::uint8_t> f = good;
        f[at] = value;
        return f;
    };
    CHECK(refused(with(12, 0x86)) == UdpIpv4Reject::not_ipv4);
    CHECK(refused(std::vector<std::uint8_t>(good.begin(), good.begin() + 13)) == UdpIpv4Reject::not_ipv4);
    CHECK(refused(std::vector<std::uint8_t>(good.begin(), good.begin() + 30)) == UdpIpv4Reject::bad_ip_header);
    CHECK(refused(with(14, 0x65)) == UdpIpv4Reject::bad_ip_header);   // version 6
    CHECK(refused(with(14, 0x44)) == UdpIpv4Reject::bad_ip_header);   // a header shorter than 20 bytes
    CHECK(refused(with(17, 0xff)) == UdpIpv4Reject::bad_ip_header);   // longer than the frame
    CHECK(refused(with(17, 0x10)) == UdpIpv4Reject::bad_ip_header);   // shorter than its header
    CHECK(refused(with(22, 63)) == UdpIpv4Reject::bad_ip_checksum);   // TTL changed, checksum not
    CHECK(refused(with(43, good[43] ^ 0x20)) == UdpIpv4Reject::bad_udp_checksum);
    std::vector<std::uint8_t> zero_checksum = with(40, 0);
    zero_checksum[41] = 0;
    CHECK(refused(zero_checksum) == UdpIpv4Reject::none);  // RFC 768: no checksum computed
    // Fields behind the IPv4 checksum: change them and correct the checksum, as a router would.
    auto rechecked = [&](std::size_t at, std::uint8_t value) {
        std::vector<std::uint8_t> f = with(at, value);
        f[24] = f[25] = 0;
        std::uint16_t check = internet_checksum(std::span<const std::uint8_t>(f).subspan(14, 20));
        f[24] = static_cast<std::uint8_t>(check >> 8);
        f[25] = static_cast<std::uint8_t>(check);
        return f;
    };
    CHECK(refused(rechecked(20, 0x20)) == UdpIpv4Reject::fragment);   // more fragments
    CHECK(refused(rechecked(21, 0x01)) == UdpIpv4Reject::fragment);   // an offset
    CHECK(refused(rechecked(23, 6)) == UdpIpv4Reject::not_udp);       // TCP
    std::vector<std::uint8_t> short_udp = good;
    short_udp[39] = static_cast<std::uint8_t>(short_udp[39] - 1);      // UDP length one short
    CHECK(refused(short_udp) == UdpIpv4Reject::bad_udp_length);
}

TEST_CASE("arp: requests and replies built and read as RFC 826 lays them out") {
    std::array<std::uint8_t, kArpFrameSize> frame{};
    build_arp(frame, kGatewayMac, ArpPacket{ArpOp::reply, kOwnMac, kOwnIp, kGatewayMac, kGatewayIp});
    const std::uint8_t expected_start[] = {0x02, 0x00, 0x00, 0x00, 0x00, 0xfe, 0x52, 0x54, 0x00, 0x00, 0x01, 0x01,
                                           0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x02};
    for (std::size_t i = 0; i < sizeof expected_start; ++i) CHECK(frame[i] == expected_start[i]);
    CHECK(frame[28] == 10);
    CHECK(frame[31] == 2);
    CHECK(frame[41] == 1);
    for (std::size_t i = 42; i < kArpFrameSize; ++i) CHECK(frame[i] == 0);
    auto p = parse_arp(frame);
    REQUIRE(p.has_value());
    CHECK(p->op == ArpOp::reply);
    CHECK(p->sender_ip == kOwnIp);
    CHECK(p->target_ip == kGatewayIp);
    CHECK(p->sender_mac.bytes[5] == 0x01);

    auto broken = [&](std::size_t at, std::uint8_t value) {
        std::array<std::uint8_t, kArpFrameSize> f = frame;
        f[at] = value;
        return parse_arp(f).has_value();
    };
    CHECK_FALSE(broken(13, 0x00));  // not ARP
    CHECK_FALSE(broken(15, 0x06));  // another hardware type
    CHECK_FALSE(broken(17, 0xdd));  // another protocol
    CHECK_FALSE(broken(18, 8));     // hardware address length
    CHECK_FALSE(broken(21, 3));     // RARP's operation
    CHECK_FALSE(parse_arp(std::span<const std::uint8_t>(frame).first(41)).has_value());
}

TEST_CASE("arp next hop: asked by broadcast until answered, at most every retry; answers for its own address") {
    NextHop hop(kOwnIp, kOwnMac, kGatewayIp, 100);
    std::array<std::uint8_t, kArpFrameSize> out{};
    REQUIRE(hop.request_if_due(1000, out));
    auto request = parse_arp(out);
    REQUIRE(request.has_value());
    CHECK(request->op == ArpOp::request);
    CHECK(request->target_ip == kGatewayIp);
    CHECK(out[0] == 0xff);
    CHECK_FALSE(hop.request_if_due(1099, out));
    CHECK(hop.request_if_due(1100, out));
    CHECK_FALSE(hop.known());

    // Someone else's reply, or a broadcast sender MAC, teaches nothing.
    CHECK_FALSE(hop.on_arp(ArpPacket{ArpOp::reply, kGatewayMac, 0x0a010063, kOwnMac, kOwnIp}, out));
    CHECK_FALSE(hop.on_arp(ArpPacket{ArpOp::reply, MacAddress{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}, kGatewayIp,
                                     kOwnMac, kOwnIp},
                           out));
    CHECK_FALSE(hop.known());
    CHECK_FALSE(hop.on_arp(ArpPacket{ArpOp::reply, kGatewayMac, kGatewayIp, kOwnMac, kOwnIp}, out));
    REQUIRE(hop.known());
    CHECK(hop.mac().bytes[5] == 0xfe);
    CHECK_FALSE(hop.request_if_due(5000, out));  // known: no more requests

    // A request for this machine's address is answered, to the asker, from this machine.
    REQUIRE(hop.on_arp(ArpPacket{ArpOp::request, kGatewayMac, kGatewayIp, MacAddress{}, kOwnIp}, out));
    auto reply = parse_arp(out);
    REQUIRE(reply.has_value());
    CHECK(reply->op == ArpOp::reply);
    CHECK(reply->sender_ip == kOwnIp);
    CHECK(reply->target_ip == kGatewayIp);
    CHECK(out[5] == 0xfe);   // to the asker
    CHECK(out[11] == 0x01);  // from this machine
    CHECK_FALSE(hop.on_arp(ArpPacket{ArpOp::request, kGatewayMac, kGatewayIp, MacAddress{}, 0x0a010009}, out));
}

TEST_CASE("arp next hop: once known, an unsolicited reply unicast to it every interval keeps the router's entry") {
    NextHop hop(kOwnIp, kOwnMac, kGatewayIp, 100);
    std::array<std::uint8_t, kArpFrameSize> out{};
    CHECK_FALSE(hop.announce_if_due(1000, 500, out));  // the next hop's MAC is not known: nothing to send to
    REQUIRE_FALSE(hop.on_arp(ArpPacket{ArpOp::reply, kGatewayMac, kGatewayIp, kOwnMac, kOwnIp}, out));
    REQUIRE(hop.announce_if_due(2000, 500, out));  // at once
    auto announced = parse_arp(out);
    REQUIRE(announced.has_value());
    // A reply (what Linux counts as proof of reachability, when unicast to it), from this
    // machine's MAC and address, to the next hop's MAC and address.
    CHECK(announced->op == ArpOp::reply);
    CHECK(announced->sender_ip == kOwnIp);
    CHECK(announced->sender_mac.bytes[5] == 0x01);
    CHECK(announced->target_ip == kGatewayIp);
    CHECK(announced->target_mac.bytes[5] == 0xfe);
    for (std::size_t i = 0; i < 6; ++i) CHECK(out[i] == kGatewayMac.bytes[i]);  // unicast, never broadcast
    CHECK_FALSE(hop.announce_if_due(2499, 500, out));
    CHECK(hop.announce_if_due(2500, 500, out));
    CHECK_FALSE(hop.announce_if_due(2999, 500, out));
}
