#include "hypervisor/net/arp.hpp"

#include "hypervisor/util/bytes.hpp"

namespace tandem::net {
namespace {

constexpr std::size_t kEthernetHeader = 14;
constexpr std::size_t kArpPacket = 28;  // RFC 826 with hlen 6, plen 4

void put_mac(std::span<std::uint8_t> out, std::size_t at, const MacAddress& mac) {
    for (std::size_t i = 0; i < 6; ++i) out[at + i] = mac.bytes[i];
}

MacAddress get_mac(std::span<const std::uint8_t> in, std::size_t at) {
    MacAddress mac{};
    for (std::size_t i = 0; i < 6; ++i) mac.bytes[i] = in[at + i];
    return mac;
}

bool same(const MacAddress& a, const MacAddress& b) {
    for (std::size_t i = 0; i < 6; ++i) {
        if (a.bytes[i] != b.bytes[i]) return false;
    }
    return true;
}

constexpr MacAddress kBroadcast{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};

}  // namespace

void build_arp(std::span<std::uint8_t, kArpFrameSize> out, const MacAddress& destination, const ArpPacket& packet) {
    std::span<std::uint8_t> f = out;
    for (auto& b : f) b = 0;
    put_mac(f, 0, destination);
    put_mac(f, 6, packet.sender_mac);
    store_be<std::uint16_t>(f, 12, kEtherTypeArp);
    store_be<std::uint16_t>(f, 14, 1);               // hardware type: Ethernet
    store_be<std::uint16_t>(f, 16, kEtherTypeIpv4);  // protocol type: IPv4
    f[18] = 6;                                        // hardware address length
    f[19] = 4;                                        // protocol address length
    store_be<std::uint16_t>(f, 20, static_cast<std::uint16_t>(packet.op));
    put_mac(f, 22, packet.sender_mac);
    store_be<std::uint32_t>(f, 28, packet.sender_ip);
    put_mac(f, 32, packet.target_mac);
    store_be<std::uint32_t>(f, 38, packet.target_ip);
}

std::optional<ArpPacket> parse_arp(std::span<const std::uint8_t> frame) {
    if (frame.size() < kEthernetHeader + kArpPacket) return std::nullopt;
    if (load_be<std::uint16_t>(frame, 12) != kEtherTypeArp) return std::nullopt;
    if (load_be<std::uint16_t>(frame, 14) != 1 || load_be<std::uint16_t>(frame, 16) != kEtherTypeIpv4 ||
        frame[18] != 6 || frame[19] != 4) {
        return std::nullopt;
    }
    std::uint16_t op = load_be<std::uint16_t>(frame, 20);
    if (op != static_cast<std::uint16_t>(ArpOp::request) && op != static_cast<std::uint16_t>(ArpOp::reply)) {
        return std::nullopt;
    }
    ArpPacket p;
    p.op = static_cast<ArpOp>(op);
    p.sender_mac = get_mac(frame, 22);
    p.sender_ip = load_be<std::uint32_t>(frame, 28);
    p.target_mac = get_mac(frame, 32);
    p.target_ip = load_be<std::uint32_t>(frame, 38);
    return p;
}

bool NextHop::request_if_due(std::uint64_t now_ns, std::span<std::uint8_t, kArpFrameSize> out) {
    if (known_ || (asked_ && now_ns - asked_at_ < retry_ns_)) return false;
    asked_ = true;
    asked_at_ = now_ns;
    build_arp(out, kBroadcast, ArpPacket{ArpOp::request, own_mac_, own_ip_, MacAddress{}, next_hop_});
    return true;
}

bool NextHop::announce_if_due(std::uint64_t now_ns, std::uint64_t interval_ns,
                              std::span<std::uint8_t, kArpFrameSize> out) {
    if (!known_ || (announced_ && now_ns - announced_at_ < interval_ns)) return false;
    announced_ = true;
    announced_at_ = now_ns;
    build_arp(out, mac_, ArpPacket{ArpOp::reply, own_mac_, own_ip_, mac_, next_hop_});
    return true;
}

bool NextHop::on_arp(const ArpPacket& packet, std::span<std::uint8_t, kArpFrameSize> out) {
    // A broadcast or all-zero sender MAC names no station (RFC 826 takes the sender's pair as is;
    // these two can only be forged or broken).
    bool usable_sender = !same(packet.sender_mac, kBroadcast) && !same(packet.sender_mac, MacAddress{});
    if (usable_sender && packet.sender_ip == next_hop_) {
        known_ = true;
        mac_ = packet.sender_mac;
    }
    if (packet.op != ArpOp::request || packet.target_ip != own_ip_ || !usable_sender) return false;
    build_arp(out, packet.sender_mac, ArpPacket{ArpOp::reply, own_mac_, own_ip_, packet.sender_mac, packet.sender_ip});
    return true;
}

}  // namespace tandem::net
