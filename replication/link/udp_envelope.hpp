// The replication link as UDP over IPv4 (issue 15), for peers on another subnet, through
// routers: each of the transport's frames — its own Ethernet header included (the two machines'
// link MACs, which the transport checks and the seal binds: frame_seal.hpp) — travels as the
// payload of one UDP datagram from link_ip to peer_ip, port link_port at both ends, sent to the
// next hop's MAC (the peer itself on link_ip's network, else link_gateway) that ARP finds
// (hypervisor/net/arp.hpp). Received frames: ARP answered for link_ip and the next hop's MAC
// learnt; a datagram from peer_ip:link_port to link_ip:link_port unwrapped and handed to the
// transport, which authenticates it as ever; anything else ignored and counted. Nothing here is
// trusted: the transport's seal decides, and a forged ARP reply or datagram can only lose frames.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "hypervisor/config/config.hpp"
#include "hypervisor/console/json_writer.hpp"
#include "hypervisor/net/arp.hpp"
#include "hypervisor/net/udp_ipv4.hpp"
#include "nic-drivers/nic.hpp"
#include "replication/link/link_interfaces.hpp"
#include "replication/link/transport.hpp"

namespace tandem::link {

struct UdpRoute {
    MacAddress own_mac{};
    net::Ipv4Address own_ip = 0, peer_ip = 0, next_hop = 0;  // next_hop: the peer, or the gateway
    std::uint16_t port = 7455;
};

struct UdpEnvelopeStats {
    std::uint64_t datagrams_sent = 0, datagrams_received = 0;
    std::uint64_t arp_requests_sent = 0, arp_replies_sent = 0, arp_announcements_sent = 0;
    std::uint64_t unresolved = 0;  // frames not sent: the next hop's MAC not known yet
    std::uint64_t ignored = 0;     // not ARP, not the link's datagram (another address, port or protocol: ICMP)
    std::uint64_t refused = 0;     // IPv4/UDP that parse_udp_ipv4 refused (checksums, lengths)
};

class UdpEnvelope {
public:
    static constexpr std::uint64_t kArpRetryNs = 200'000'000;  // a request every 200 ms until answered
    // An unsolicited unicast reply to the next hop every second (arp.hpp, NextHop::announce_if_due):
    // the router's entry for this machine stays reachable; 60 bytes a second.
    static constexpr std::uint64_t kArpAnnounceNs = 1'000'000'000;

    UdpEnvelope(const UdpRoute& route, Clock& clock)
        : route_(route), clock_(clock), hop_(route.own_ip, route.own_mac, route.next_hop, kArpRetryNs) {}

    // Wraps one transport frame and sends it to the next hop; refused (the transport counts it
    // lost and sends it again) while the next hop's MAC is unknown or the ring is full.
    Status transmit(nic::Nic& nic, std::span<const std::uint8_t> frame);
    // One frame the link NIC received: ARP handled here, the link's datagrams to `transport`.
    void receive(nic::Nic& nic, nic::Frame frame, Transport& transport);
    // An ARP request for the next hop, while it is unknown (at most every kArpRetryNs); once known,
    // the announcement to it (every kArpAnnounceNs).
    void poll(nic::Nic& nic);

    bool next_hop_known() const { return hop_.known(); }
    const UdpEnvelopeStats& stats() const { return stats_; }
    const UdpRoute& route() const { return route_; }
    void report(Writer& out) const;          // one line of the console's `link`
    void report_json(JsonWriter& json) const;  // its "udp" object in `link --json`

private:
    bool send(nic::Nic& nic, std::span<const std::uint8_t> frame);

    UdpRoute route_;
    Clock& clock_;
    net::NextHop hop_;
    UdpEnvelopeStats stats_;
    std::uint16_t ip_id_ = 0;
    std::uint8_t tx_[2048]{};
};

// The envelope's route from the command line (config.hpp: link_ip, peer_ip, link_gateway, link_port).
UdpRoute udp_route(const Config& config, const MacAddress& own_mac);

}  // namespace tandem::link
