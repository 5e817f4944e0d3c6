#include "hypervisor/net/gratuitous_arp.hpp"

#include "hypervisor/net/arp.hpp"

namespace tandem::net {

void build_gratuitous_arp(std::span<std::uint8_t, kGratuitousArpSize> out, const MacAddress& mac,
                          const std::uint8_t (&ip)[4]) {
    static_assert(kGratuitousArpSize == kArpFrameSize);
    Ipv4Address address = ipv4_address(ip);
    // A request (RFC 5227 §3 prefers requests for announcements), broadcast, sender and target
    // IP both the guest's, the target MAC zero (ignored in a request).
    build_arp(out, MacAddress{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
              ArpPacket{ArpOp::request, mac, address, MacAddress{}, address});
}

}  // namespace tandem::net
