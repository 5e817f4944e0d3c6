#include "replication/link/udp_envelope.hpp"

namespace tandem::link {
UdpRoute udp_route(const Config& config, const MacAddress& own_mac) {
    UdpRoute r;
    r.own_mac = own_mac;
    r.own_ip = net::ipv4_address(config.link_ip);
    r.peer_ip = net::ipv4_address(config.peer_ip);
    r.next_hop = config.has_link_gateway ? net::ipv4_address(config.link_gateway) : r.peer_ip;
    r.port = static_cast<std::uint16_t>(config.link_port);
    return r;
}

bool UdpEnvelope::send(nic::Nic& nic, std::span<const std::uint8_t> frame) {
    nic::Frame f = frame;
    return nic.transmit({&f, 1}) == 1;
}

Status UdpEnvelope::transmit(nic::Nic& nic, std::span<const std::uint8_t> frame) {
    if (!hop_.known()) {
        ++stats_.unresolved;
        poll(nic);
        return Error::of("link: the next hop's MAC is not known yet (asked by ARP)");
    }
    net::UdpIpv4Route r{route_.own_mac, hop_.mac(), route_.own_ip, route_.peer_ip, route_.port, route_.port, 64};
    std::size_t size = net::build_udp_ipv4(tx_, r, ip_id_++, frame);
    if (size == 0) return Error::of("link: a frame too large for a datagram; bytes", frame.size());
    if (!send(nic, std::span<const std::uint8_t>(tx_, size))) return Error::of("link: the NIC's transmit ring is full");
    ++stats_.datagrams_sent;
    return success();
}

void UdpEnvelope::receive(nic::Nic& nic, nic::Frame frame, Transport& transport) {
    if (auto arp = net::parse_arp(frame)) {
        std::uint8_t reply[net::kArpFrameSize];
        if (hop_.on_arp(*arp, reply) && send(nic, reply)) ++stats_.arp_replies_sent;
        return;
    }
    net::UdpIpv4Parse p = net::parse_udp_ipv4(frame);
    // Another protocol over IPv4 is no damaged datagram: a router's ICMP (host unreachable while
    // the peer is down, RFC 792) is normal on a routed link.
    if (p.reject == net::UdpIpv4Reject::not_ipv4 || p.reject == net::UdpIpv4Reject::not_udp) {
        ++stats_.ignored;
        return;
    }
    if (!p.ok()) {
        ++stats_.refused;
        return;
    }
    const net::UdpIpv4Datagram& d = p.datagram;
    if (d.source_ip != route_.peer_ip || d.destination_ip != route_.own_ip || d.source_port != route_.port ||
        d.destination_port != route_.port) {
        ++stats_.ignored;
        return;
    }
    ++stats_.datagrams_received;
    transport.on_frame(d.payload);
}

void UdpEnvelope::report(Writer& out) const {
    println(out, "link: UDP/IPv4 port {}: {} datagrams sent, {} received; the next hop's MAC {}; {} ARP requests sent, {} "
                 "answered, {} announced; {} frames not sent for want of it; {} frames ignored (not the link's), {} "
                 "refused (bad IPv4/UDP)",
            route_.port, stats_.datagrams_sent, stats_.datagrams_received, hop_.known() ? "known" : "NOT known",
            stats_.arp_requests_sent, stats_.arp_replies_sent, stats_.arp_announcements_sent, stats_.unresolved,
            stats_.ignored, stats_.refused);
}

void UdpEnvelope::report_json(JsonWriter& json) const {
    json.object_field("udp");
    json.field("port", std::uint64_t{route_.port});
    json.field("next_hop_known", hop_.known());
    json.field("datagrams_sent", stats_.datagrams_sent);
    json.field("datagrams_received", stats_.datagrams_received);
    json.field("arp_requests_sent", stats_.arp_requests_sent);
    json.field("arp_replies_sent", stats_.arp_replies_sent);
    json.field("arp_announcements_sent", stats_.arp_announcements_sent);
    json.field("unresolved", stats_.unresolved);
    json.field("ignored", stats_.ignored);
    json.field("refused", stats_.refused);
    json.end_object();
}

void UdpEnvelope::poll(nic::Nic& nic) {
    std::uint8_t arp[net::kArpFrameSize];
    if (hop_.request_if_due(clock_.now_ns(), arp) && send(nic, arp)) ++stats_.arp_requests_sent;
    if (hop_.announce_if_due(clock_.now_ns(), kArpAnnounceNs, arp) && send(nic, arp)) {
        ++stats_.arp_announcements_sent;
    }
}

}  // namespace tandem::link
