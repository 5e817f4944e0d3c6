// ARP for IPv4 over Ethernet (RFC 826): what the replication link needs when it runs as UDP over
// IPv4 through routers (issue 15) — asking for the next hop's MAC, answering for its own
// address — and the packet of the gratuitous announcement a promoted backup makes
// (gratuitous_arp.hpp). Frames from the network are untrusted: parse_arp checks every field it
// reads and takes only Ethernet/IPv4 ARP with the sizes RFC 826 gives them. ARP itself is not
// authenticated: a forged reply can send the link's frames elsewhere, which is what cutting the
// cable does (the frames are sealed end to end, replication/link/frame_seal.hpp); it can change
// nothing in the pair's state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "hypervisor/net/mac_address.hpp"

namespace tandem::net {

using Ipv4Address = std::uint32_t;  // in host order: 10.1.0.2 is 0x0a010002

// The address of four bytes as written (10, 1, 0, 2), as the configuration keeps them.
constexpr Ipv4Address ipv4_address(const std::uint8_t (&ip)[4]) {
    return static_cast<Ipv4Address>(ip[0]) << 24 | static_cast<Ipv4Address>(ip[1]) << 16 |
           static_cast<Ipv4Address>(ip[2]) << 8 | ip[3];
}

inline constexpr std::size_t kArpFrameSize = 60;  // 14 + 28 bytes, padded to Ethernet's minimum
inline constexpr std::uint16_t kEtherTypeArp = 0x0806;
inline constexpr std::uint16_t kEtherTypeIpv4 = 0x0800;

enum class ArpOp : std::uint16_t { request = 1, reply = 2 };

struct ArpPacket {
    ArpOp op = ArpOp::request;
    MacAddress sender_mac{};
    Ipv4Address sender_ip = 0;
    MacAddress target_mac{};  // ignored in a request (zero)
    Ipv4Address target_ip = 0;
};

// The frame: Ethernet to `destination` from the sender's MAC, the ARP packet, zero padding.
void build_arp(std::span<std::uint8_t, kArpFrameSize> out, const MacAddress& destination, const ArpPacket& packet);

// The ARP packet in an Ethernet frame, or nothing: not ARP, not Ethernet/IPv4 ARP, an operation
// other than request or reply, or too short.
std::optional<ArpPacket> parse_arp(std::span<const std::uint8_t> frame);

// The MAC of one IPv4 address on this machine's segment (the peer, or the gateway towards it),
// learnt from ARP: asked by broadcast requests at most every `retry_ns` until a reply or a
// request from that address names it, and kept from then on (a later packet from the address
// with another MAC replaces it: the next hop's NIC changed).
class NextHop {
public:
    NextHop(Ipv4Address own_ip, const MacAddress& own_mac, Ipv4Address next_hop, std::uint64_t retry_ns)
        : own_ip_(own_ip), own_mac_(own_mac), next_hop_(next_hop), retry_ns_(retry_ns) {}

    bool known() const { return known_; }
    const MacAddress& mac() const { return mac_; }
    Ipv4Address address() const { return next_hop_; }

    // A request for the next hop's MAC into `out` if one is due now (unknown, and none sent within
    // retry_ns); false otherwise.
    bool request_if_due(std::uint64_t now_ns, std::span<std::uint8_t, kArpFrameSize> out);

    // Takes a received ARP packet: learns the next hop's MAC from anything it sent, and writes the
    // reply into `out` when the packet asks for this machine's address (returns true then).
    bool on_arp(const ArpPacket& packet, std::span<std::uint8_t, kArpFrameSize> out);
    // Once the next hop is known, an unsolicited ARP reply unicast to it ("this address is at this
    // MAC") into `out` every `interval_ns`; false when none is due. A router keeps a neighbour
    // entry reachable only for some seconds (Linux: base_reachable_time, 30 s, randomised to
    // 15-45 s), then probes it, and while it re-resolves an address whose probes went unanswered
    // it holds that machine's datagrams (measured: 0.7 s, past a 300 ms failover timeout) — a
    // unicast reply is what Linux takes as proof of reachability (net/ipv4/arp.c, arp_process:
    // NUD_REACHABLE for a reply to its own MAC), so the entry never gets that far.
    bool announce_if_due(std::uint64_t now_ns, std::uint64_t interval_ns, std::span<std::uint8_t, kArpFrameSize> out);

private:
    Ipv4Address own_ip_;
    MacAddress own_mac_;
    Ipv4Address next_hop_;
    std::uint64_t retry_ns_;
    bool known_ = false;
    MacAddress mac_{};
    bool asked_ = false;
    std::uint64_t asked_at_ = 0;
    bool announced_ = false;
    std::uint64_t announced_at_ = 0;
};

}  // namespace tandem::net
