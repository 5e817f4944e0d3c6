// What the lockstep comparator reads out of a guest's frame (replication/lockstep/output_frame.hpp).
#include <doctest/doctest.h>

#include <string_view>

#include "lockstep_frames.hpp"
#include "replication/lockstep/output_frame.hpp"

using namespace tandem::lockstep;
using lockstep_test::Segment;

namespace {
std::string_view payload_of(const std::vector<std::uint8_t>& frame, const OutputFrame& f) {
    return {reinterpret_cast<const char*>(frame.data()) + f.payload_offset, f.payload_length};
}
}  // namespace

TEST_CASE("output frame: a TCP segment gives its flow, sequence numbers, flags and payload") {
    auto frame = lockstep_test::tcp({.seq = 0xfffffff0, .ack = 77, .flags = 0x18, .payload = "hello", .option_words = 3});
    auto f = classify_output_frame(frame);
    REQUIRE(f.kind == FrameKind::tcp);
    CHECK(f.flow == FlowKey{0x0a000002, 0x0a000001, 80, 40000, 6});
    CHECK(f.seq == 0xfffffff0);
    CHECK(f.ack == 77);
    CHECK(f.has(tcp_flag::psh));
    CHECK(f.has(tcp_flag::ack));
    CHECK_FALSE(f.pure_ack());
    CHECK(payload_of(frame, f) == "hello");
    CHECK(f.data_end() == 0xfffffff5);
}

TEST_CASE("output frame: SYN and FIN take one sequence number each") {
    auto syn = classify_output_frame(lockstep_test::tcp({.seq = 100, .flags = 0x12}));
    CHECK(syn.data_seq() == 101);
    CHECK(syn.space_end() == 101);
    CHECK_FALSE(syn.pure_ack());
    auto fin = classify_output_frame(lockstep_test::tcp({.seq = 200, .flags = 0x11, .payload = "ab"}));
    CHECK(fin.data_end() == 202);
    CHECK(fin.space_end() == 203);
    CHECK(classify_output_frame(lockstep_test::tcp({.seq = 300, .flags = 0x10})).pure_ack());
}

TEST_CASE("output frame: Ethernet padding after a short packet is not payload") {
    auto frame = lockstep_test::tcp({.payload = "x", .pad_to = 60});
    auto f = classify_output_frame(frame);
    REQUIRE(f.kind == FrameKind::tcp);
    CHECK(payload_of(frame, f) == "x");
    auto datagram = lockstep_test::udp("", {.pad_to = 60});
    CHECK(classify_output_frame(datagram).payload_length == 0);
}

TEST_CASE("output frame: UDP payload and ICMP message after its checksum") {
    auto u = lockstep_test::udp("query");
    auto f = classify_output_frame(u);
    REQUIRE(f.kind == FrameKind::udp);
    CHECK(f.flow.protocol == 17);
    CHECK(payload_of(u, f) == "query");
    auto i = lockstep_test::icmp_echo_reply(0x1234, 7, "ping");
    auto g = classify_output_frame(i);
    REQUIRE(g.kind == FrameKind::icmp);
    CHECK(g.icmp_type_code == 0);
    CHECK(g.payload_length == 8);  // identifier, sequence, data
    CHECK(g.flow.source_port == 0);
}

TEST_CASE("output frame: what is not understood is uncompared, never read past its end") {
    CHECK(classify_output_frame(lockstep_test::arp_reply()).kind == FrameKind::uncompared);
    auto fragment = lockstep_test::udp("part", {.fragment = 0x2000});  // MF
    CHECK(classify_output_frame(fragment).kind == FrameKind::uncompared);
    auto later_fragment = lockstep_test::udp("part", {.fragment = 0x0010});
    CHECK(classify_output_frame(later_fragment).kind == FrameKind::uncompared);

    auto frame = lockstep_test::tcp({.payload = "data"});
    for (std::size_t n = 0; n < frame.size(); ++n) {  // every truncation that cuts the headers or the packet
        auto f = classify_output_frame({frame.data(), n});
        CHECK(f.kind == FrameKind::uncompared);
    }
    auto bad_offset = frame;
    bad_offset[14 + 20 + 12] = 0xf0;  // TCP header of 60 bytes in a 24-byte segment
    CHECK(classify_output_frame(bad_offset).kind == FrameKind::uncompared);
    auto short_offset = frame;
    short_offset[14 + 20 + 12] = 0x40;  // 16 bytes: below the minimum
    CHECK(classify_output_frame(short_offset).kind == FrameKind::uncompared);
    auto bad_ihl = frame;
    bad_ihl[14] = 0x44;
    CHECK(classify_output_frame(bad_ihl).kind == FrameKind::uncompared);
    auto ipv6 = frame;
    lockstep_test::put16(ipv6, 12, 0x86dd);
    CHECK(classify_output_frame(ipv6).kind == FrameKind::uncompared);
    auto vlan = frame;
    lockstep_test::put16(vlan, 12, 0x8100);
    CHECK(classify_output_frame(vlan).kind == FrameKind::uncompared);
    auto long_udp = lockstep_test::udp("abc");
    lockstep_test::put16(long_udp, 14 + 20 + 4, 200);  // UDP length past the packet
    CHECK(classify_output_frame(long_udp).kind == FrameKind::uncompared);
    auto other = frame;
    other[14 + 9] = 47;  // GRE
    CHECK(classify_output_frame(other).kind == FrameKind::uncompared);
}

TEST_CASE("output frame: sequence numbers compare across the 2^32 wrap") {
    CHECK(seq_before(0xfffffff0u, 0x10u));
    CHECK_FALSE(seq_before(0x10u, 0xfffffff0u));
    CHECK(seq_at_or_before(5u, 5u));
    CHECK_FALSE(seq_before(5u, 5u));
}
