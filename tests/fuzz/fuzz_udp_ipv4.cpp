// libFuzzer: the envelope of the replication link across routers (hypervisor/net/udp_ipv4.hpp,
// arp.hpp) over frames from the network. Input layout (fuzz::Input):
//   u8   bit 0: the frame is built by tandem from the fields below, then damaged; else the rest
//        of the input is the frame as received
//   built: u32 source ip, u32 destination ip, u16 source port, u16 destination port, u16 ip id,
//          u8 ttl, u8 damages, then per damage u16 offset and u8 xor mask, then the payload
// Checked, beyond ASan/UBSan: an accepted datagram's payload lies inside the frame and its IPv4
// header sums to all ones (RFC 1071) by an independent sum; built again from what was parsed, it
// parses to the same datagram; an undamaged built frame is always accepted with its fields; an
// accepted ARP packet is rebuilt to the same bytes (but the Ethernet source); a NextHop's reply is
// itself an ARP reply to the asker, from this machine.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "hypervisor/net/arp.hpp"
#include "hypervisor/net/udp_ipv4.hpp"
#include "tests/fuzz/fuzz_input.hpp"

namespace {

using namespace tandem;
using namespace tandem::net;

[[noreturn]] void fail(int line = __builtin_LINE()) {
    std::fprintf(stderr, "%s:%d: check failed\n", __FILE__, line);
    __builtin_trap();
}
void check(bool ok, int line = __builtin_LINE()) {
    if (!ok) fail(line);
}

constexpr MacAddress kOwnMac{{0x52, 0x54, 0x00, 0x00, 0x01, 0x01}};
constexpr MacAddress kHopMac{{0x02, 0x00, 0x00, 0x00, 0x00, 0xfe}};

std::uint16_t ones_sum(std::span<const std::uint8_t> bytes) {
    std::uint64_t sum = 0;
    for (std::size_t i = 0; i < bytes.size(); i += 2) {
        sum += static_cast<std::uint64_t>(bytes[i]) << 8 | (i + 1 < bytes.size() ? bytes[i + 1] : 0);
    }
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<std::uint16_t>(sum);
}

void check_udp(std::span<const std::uint8_t> frame) {
    UdpIpv4Parse p = parse_udp_ipv4(frame);
    if (!p.ok()) return;
    const UdpIpv4Datagram& d = p.datagram;
    check(d.payload.data() >= frame.data() && d.payload.data() + d.payload.size() <= frame.data() + frame.size());
    std::size_t header = static_cast<std::size_t>(frame[14] & 0x0f) * 4;
    check(ones_sum(frame.subspan(14, header)) == 0xffff);
    std::vector<std::uint8_t> again(kUdpIpv4Overhead + d.payload.size());
    UdpIpv4Route route{kOwnMac, kHopMac, d.source_ip, d.destination_ip, d.source_port, d.destination_port, 64};
    check(build_udp_ipv4(again, route, 7, d.payload) == again.size());
    UdpIpv4Parse q = parse_udp_ipv4(again);
    check(q.ok());
    check(q.datagram.source_ip == d.source_ip && q.datagram.destination_ip == d.destination_ip);
    check(q.datagram.source_port == d.source_port && q.datagram.destination_port == d.destination_port);
    check(q.datagram.payload.size() == d.payload.size());
    for (std::size_t i = 0; i < d.payload.size(); ++i) check(q.datagram.payload[i] == d.payload[i]);
}

void check_arp(std::span<const std::uint8_t> frame) {
    auto p = parse_arp(frame);
    if (!p) return;
    std::array<std::uint8_t, kArpFrameSize> again{};
    MacAddress destination{};
    for (std::size_t i = 0; i < 6; ++i) destination.bytes[i] = frame[i];
    build_arp(again, destination, *p);
    for (std::size_t i = 0; i < 42; ++i) {
        if (i < 6 || i >= 12) check(again[i] == frame[i]);
    }
    NextHop hop(0x0a010002, kOwnMac, p->sender_ip, 100);
    std::array<std::uint8_t, kArpFrameSize> reply{};
    if (hop.on_arp(*p, reply)) {
        auto r = parse_arp(reply);
        check(r.has_value() && r->op == ArpOp::reply && r->sender_ip == 0x0a010002 && r->target_ip == p->sender_ip);
        check(p->op == ArpOp::request && p->target_ip == 0x0a010002);
        for (std::size_t i = 0; i < 6; ++i) check(reply[i] == p->sender_mac.bytes[i] && reply[6 + i] == kOwnMac.bytes[i]);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::Input in(data, size);
    if (!in.flag()) {
        std::span<const std::uint8_t> frame = in.rest();
        check_udp(frame);
        check_arp(frame);
        return 0;
    }
    UdpIpv4Route route{kOwnMac, kHopMac, in.u32(), in.u32(), in.u16(), in.u16(), 0};
    std::uint16_t id = in.u16();
    route.ttl = in.u8();
    std::uint8_t damages = in.u8() % 4;
    std::array<std::pair<std::uint16_t, std::uint8_t>, 4> damage{};
    for (std::uint8_t i = 0; i < damages; ++i) damage[i] = {in.u16(), in.u8()};
    std::span<const std::uint8_t> payload = in.rest();
    std::vector<std::uint8_t> frame(kUdpIpv4Overhead + payload.size());
    check(build_udp_ipv4(frame, route, id, payload) == frame.size());
    UdpIpv4Parse clean = parse_udp_ipv4(frame);
    check(clean.ok() && clean.datagram.source_ip == route.source_ip && clean.datagram.destination_port == route.destination_port);
    for (std::uint8_t i = 0; i < damages; ++i) frame[damage[i].first % frame.size()] ^= damage[i].second;
    check_udp(frame);
    check_arp(frame);
    return 0;
}
