#include "hypervisor/net/gratuitous_arp.hpp"

namespace tandem::net {

void build_gratuitous_arp(std::span<std::uint8_t, kGratuitousArpSize> out, const MacAddress& mac,
                          const std::uint8_t (&ip)[4]) {
    for (auto& b : out) b = 0;
    std::uint8_t* f = out.data();
    for (int i = 0; i < 6; ++i) {
        f[i] = 0xff;           // broadcast
        f[6 + i] = mac.bytes[i];
        f[22 + i] = mac.bytes[i];  // sender hardware address
        // target hardware address (32..37) stays zero: ignored in a request
    }
    f[12] = 0x08;  // EtherType ARP
    f[13] = 0x06;
    f[14] = 0x00;  // htype Ethernet
    f[15] = 0x01;
    f[16] = 0x08;  // ptype IPv4
    f[17] = 0x00;
    f[18] = 6;     // hlen
    f[19] = 4;     // plen
    f[20] = 0x00;  // op: request (RFC 5227 §3 prefers requests for announcements)
    f[21] = 0x01;
    for (int i = 0; i < 4; ++i) {
        f[28 + i] = ip[i];  // sender IP
        f[38 + i] = ip[i];  // target IP: the same address
    }
}

}  // namespace tandem::net
