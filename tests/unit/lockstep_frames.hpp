// Ethernet/IPv4 frames for the lockstep comparator's tests, built field by field so a test can
// vary exactly the headers the two guests may legitimately disagree on (IP ID, TTL, window, TCP
// options) and the ones they may not (payload, sequence numbers, flags).
#pragma once

#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "hypervisor/devices/virtio/virtio_net.hpp"

namespace lockstep_test {

// The client NIC: records what leaves, refuses everything while busy.
struct RecordingNic final : tandem::virtio::NetBackend {
    bool transmit(std::span<const std::uint8_t> frame) override {
        if (busy) return false;
        sent.emplace_back(frame.begin(), frame.end());
        return true;
    }
    bool busy = false;
    std::vector<std::vector<std::uint8_t>> sent;
};

struct Segment {
    std::uint32_t seq = 1000, ack = 5000;
    std::uint8_t flags = 0x10;  // ACK
    std::string_view payload;
    std::uint16_t source_port = 80, destination_port = 40000;
    std::uint16_t ip_id = 1, window = 64240;
    std::uint8_t ttl = 64;
    std::uint8_t option_words = 0;  // TCP options (e.g. timestamps), 4 bytes each
    std::uint8_t option_fill = 0x01;
    std::uint16_t fragment = 0x4000;  // DF
    std::size_t pad_to = 0;           // Ethernet padding after the packet
    std::vector<std::pair<std::uint32_t, std::uint32_t>> sack{};  // SACK blocks (NOP, NOP, SACK)
    bool from_client = false;  // 10.0.0.1 -> 10.0.0.2 instead of the guest's 10.0.0.2 -> 10.0.0.1
};

inline void put16(std::vector<std::uint8_t>& v, std::size_t at, std::uint16_t x) {
    v[at] = static_cast<std::uint8_t>(x >> 8);
    v[at + 1] = static_cast<std::uint8_t>(x);
}
inline void put32(std::vector<std::uint8_t>& v, std::size_t at, std::uint32_t x) {
    put16(v, at, static_cast<std::uint16_t>(x >> 16));
    put16(v, at + 2, static_cast<std::uint16_t>(x));
}

// Ethernet and IPv4 headers for `transport` bytes of protocol `protocol` (10.0.0.2 -> 10.0.0.1, the
// guest to its client, unless from_client).
inline std::vector<std::uint8_t> ipv4_frame(std::uint8_t protocol, const std::vector<std::uint8_t>& transport,
                                            const Segment& s) {
    std::vector<std::uint8_t> f(34, 0);
    for (std::size_t i = 0; i < 6; ++i) {
        f[i] = 0x02;
        f[6 + i] = static_cast<std::uint8_t>(0x52 + i);
    }
    put16(f, 12, 0x0800);
    f[14] = 0x45;
    put16(f, 16, static_cast<std::uint16_t>(20 + transport.size()));
    put16(f, 18, s.ip_id);
    put16(f, 20, s.fragment);
    f[22] = s.ttl;
    f[23] = protocol;
    put16(f, 24, static_cast<std::uint16_t>(s.ip_id * 7 + s.ttl));  // a checksum that differs with them
    put32(f, 26, s.from_client ? 0x0a000001 : 0x0a000002);
    put32(f, 30, s.from_client ? 0x0a000002 : 0x0a000001);
    f.insert(f.end(), transport.begin(), transport.end());
    if (f.size() < s.pad_to) f.resize(s.pad_to, 0xee);
    return f;
}

inline std::vector<std::uint8_t> tcp(const Segment& s) {
    std::size_t options = s.sack.empty() ? 4u * s.option_words : 4 + 8 * s.sack.size();
    std::size_t header = 20 + options;
    std::vector<std::uint8_t> t(header, s.option_fill);
    if (!s.sack.empty()) {
        t[20] = t[21] = 1;
        t[22] = 5;
        t[23] = static_cast<std::uint8_t>(2 + 8 * s.sack.size());
        for (std::size_t i = 0; i < s.sack.size(); ++i) {
            put32(t, 24 + 8 * i, s.sack[i].first);
            put32(t, 28 + 8 * i, s.sack[i].second);
        }
    }
    put16(t, 0, s.source_port);
    put16(t, 2, s.destination_port);
    put32(t, 4, s.seq);
    put32(t, 8, s.ack);
    t[12] = static_cast<std::uint8_t>(header / 4 << 4);
    t[13] = s.flags;
    put16(t, 14, s.window);
    put16(t, 16, static_cast<std::uint16_t>(s.window ^ s.ip_id));  // checksum
    put16(t, 18, 0);
    t.insert(t.end(), s.payload.begin(), s.payload.end());
    return ipv4_frame(6, t, s);
}

// The real TCP checksum of an IPv4 frame's segment (RFC 9293 §3.1: pseudo-header, then the
// segment with its checksum field as zero), for tests that check a rewrite kept it right.
inline std::uint16_t tcp_checksum(const std::vector<std::uint8_t>& f) {
    std::size_t ip = 14, tcp_at = ip + static_cast<std::size_t>(f[ip] & 0x0f) * 4;
    std::size_t total = static_cast<std::size_t>(f[ip + 2] << 8 | f[ip + 3]);
    std::size_t length = total - (tcp_at - ip);
    std::uint32_t sum = 0;
    auto word = [&](std::size_t at) { return static_cast<std::uint32_t>(f[at] << 8 | (at + 1 < tcp_at + length ? f[at + 1] : 0)); };
    for (std::size_t at = ip + 12; at < ip + 20; at += 2) sum += static_cast<std::uint32_t>(f[at] << 8 | f[at + 1]);
    sum += 6 + static_cast<std::uint32_t>(length);
    for (std::size_t at = tcp_at; at < tcp_at + length; at += 2) {
        if (at != tcp_at + 16) sum += word(at);
    }
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<std::uint16_t>(~sum);
}

inline std::vector<std::uint8_t> with_checksum(std::vector<std::uint8_t> f) {
    put16(f, 14 + static_cast<std::size_t>(f[14] & 0x0f) * 4 + 16, tcp_checksum(f));
    return f;
}

inline std::vector<std::uint8_t> udp(std::string_view payload, Segment s = {}) {
    std::vector<std::uint8_t> u(8, 0);
    put16(u, 0, s.source_port);
    put16(u, 2, s.destination_port);
    put16(u, 4, static_cast<std::uint16_t>(8 + payload.size()));
    put16(u, 6, s.ip_id);  // checksum
    u.insert(u.end(), payload.begin(), payload.end());
    return ipv4_frame(17, u, s);
}

inline std::vector<std::uint8_t> icmp_echo_reply(std::uint16_t id, std::uint16_t sequence, std::string_view data,
                                                 Segment s = {}) {
    std::vector<std::uint8_t> m(8, 0);
    m[0] = 0;  // echo reply
    put16(m, 2, s.ip_id);  // checksum
    put16(m, 4, id);
    put16(m, 6, sequence);
    m.insert(m.end(), data.begin(), data.end());
    return ipv4_frame(1, m, s);
}

inline std::vector<std::uint8_t> arp_reply() {
    std::vector<std::uint8_t> f(42, 0x11);
    put16(f, 12, 0x0806);
    return f;
}

}  // namespace lockstep_test
