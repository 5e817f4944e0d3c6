// TCP sequence rewriting on the lockstep backup (replication/lockstep/tcp_rewriter.hpp): both
// connection directions, SACK blocks, checksums kept right, the table's life cycle.
#include <doctest/doctest.h>

#include <vector>

#include "lockstep_frames.hpp"
#include "replication/lockstep/output_frame.hpp"
#include "replication/lockstep/tcp_rewriter.hpp"

using namespace tandem::lockstep;
using lockstep_test::Segment;
using Frame = std::vector<std::uint8_t>;

namespace {

constexpr std::uint32_t kPrimaryIsn = 0x10000000, kBackupIsn = 0xfffffff0;  // the difference wraps
constexpr std::uint32_t kClientIsn = 0x50000000;
constexpr std::uint16_t kGuestPort = 80, kClientPort = 40000;

Frame guest(Segment s) {  // the backup's guest -> the client
    s.source_port = kGuestPort;
    s.destination_port = kClientPort;
    return lockstep_test::with_checksum(lockstep_test::tcp(s));
}
Frame client(Segment s) {  // the client -> the guest
    s.source_port = kClientPort;
    s.destination_port = kGuestPort;
    s.from_client = true;
    return lockstep_test::with_checksum(lockstep_test::tcp(s));
}
std::uint16_t checksum_of(const Frame& f) { return static_cast<std::uint16_t>(f[14 + 20 + 16] << 8 | f[14 + 20 + 17]); }
bool checksum_ok(const Frame& f) { return checksum_of(f) == lockstep_test::tcp_checksum(f); }
OutputFrame parsed(const Frame& f) { return classify_output_frame(f); }

// A client-opened connection on the backup, up to the point where the difference is learned.
void client_handshake(TcpSequenceRewriter& r) {
    Frame syn = client({.seq = kClientIsn, .ack = 0, .flags = 0x02});
    CHECK(r.incoming(syn) == Rewrite::unchanged);
    Frame syn_ack = guest({.seq = kBackupIsn, .ack = kClientIsn + 1, .flags = 0x12});
    CHECK(r.outgoing(syn_ack) == Rewrite::unchanged);  // its ISN is the backup's own; noted
    Frame ack = client({.seq = kClientIsn + 1, .ack = kPrimaryIsn + 1, .flags = 0x10});
    CHECK(r.incoming(ack) == Rewrite::rewritten);
    CHECK(parsed(ack).ack == kBackupIsn + 1);  // the backup's guest sees its own numbering
    CHECK(checksum_ok(ack));
}

}  // namespace

TEST_CASE("tcp rewriter: RFC 1624's incremental checksum equals a full recomputation") {
    Frame f = client({.seq = 1, .ack = 0x12345678, .payload = "checksum me"});
    REQUIRE(checksum_ok(f));
    for (std::uint32_t after : {0u, 1u, 0xffffffffu, 0x12345679u, 0xedcba987u}) {
        std::uint16_t incremental = checksum_after_change(checksum_of(f), 0x12345678, after);
        Frame g = client({.seq = 1, .ack = after, .payload = "checksum me"});
        CHECK(incremental == checksum_of(g));
    }
}

TEST_CASE("tcp rewriter: a client-opened connection is learned from the handshake's acknowledgement") {
    TcpSequenceRewriter r;
    client_handshake(r);
    CHECK(r.stats().learned == 1);
    Frame reply = guest({.seq = kBackupIsn + 1, .ack = kClientIsn + 80, .flags = 0x18, .payload = "HTTP/1.1 200 OK"});
    CHECK(r.outgoing(reply) == Rewrite::rewritten);
    CHECK(parsed(reply).seq == kPrimaryIsn + 1);  // what the primary's guest sent
    CHECK(parsed(reply).ack == kClientIsn + 80);  // the client's numbering is the same for both
    CHECK(checksum_ok(reply));
    Frame ack = client({.seq = kClientIsn + 80, .ack = kPrimaryIsn + 16});
    CHECK(r.incoming(ack) == Rewrite::rewritten);
    CHECK(parsed(ack).ack == kBackupIsn + 16);
    CHECK(checksum_ok(ack));
}

TEST_CASE("tcp rewriter: a guest-opened connection is learned from the client's SYN-ACK") {
    TcpSequenceRewriter r;
    Frame syn = guest({.seq = kBackupIsn, .ack = 0, .flags = 0x02});
    CHECK(r.outgoing(syn) == Rewrite::unchanged);
    Frame syn_ack = client({.seq = kClientIsn, .ack = kPrimaryIsn + 1, .flags = 0x12});
    CHECK(r.incoming(syn_ack) == Rewrite::rewritten);
    CHECK(parsed(syn_ack).ack == kBackupIsn + 1);
    CHECK(checksum_ok(syn_ack));
    Frame request = guest({.seq = kBackupIsn + 1, .ack = kClientIsn + 1, .flags = 0x18, .payload = "GET /"});
    CHECK(r.outgoing(request) == Rewrite::rewritten);
    CHECK(parsed(request).seq == kPrimaryIsn + 1);
    CHECK(checksum_ok(request));
}

TEST_CASE("tcp rewriter: SACK blocks from the client move into the backup's numbering, other options stay") {
    TcpSequenceRewriter r;
    client_handshake(r);
    Frame ack = client({.seq = kClientIsn + 1, .ack = kPrimaryIsn + 1,
                        .sack = {{kPrimaryIsn + 1001, kPrimaryIsn + 2001}, {kPrimaryIsn + 3001, kPrimaryIsn + 4001}}});
    Frame before = ack;
    CHECK(r.incoming(ack) == Rewrite::rewritten);
    CHECK(checksum_ok(ack));
    Frame expected = client({.seq = kClientIsn + 1, .ack = kBackupIsn + 1,
                             .sack = {{kBackupIsn + 1001, kBackupIsn + 2001}, {kBackupIsn + 3001, kBackupIsn + 4001}}});
    CHECK(ack == expected);
    CHECK(before != expected);
}

TEST_CASE("tcp rewriter: a malformed option list is left alone where it breaks, never read past") {
    TcpSequenceRewriter r;
    client_handshake(r);
    Frame ack = client({.seq = kClientIsn + 1, .ack = kPrimaryIsn + 1, .option_words = 2, .option_fill = 0x05});
    // Options: 05 05 05 05 05 05 05 05: a SACK of length 5 (not 2 + 8n) then garbage.
    CHECK(r.incoming(ack) == Rewrite::rewritten);
    CHECK(parsed(ack).ack == kBackupIsn + 1);
    CHECK(checksum_ok(ack));
    Frame overlong = client({.seq = kClientIsn + 1, .ack = kPrimaryIsn + 1, .option_words = 1, .option_fill = 0x40});
    CHECK(r.incoming(overlong) == Rewrite::rewritten);  // length 64 in a 4-byte option area: skipped
    CHECK(checksum_ok(overlong));
}

TEST_CASE("tcp rewriter: connections older than the checkpoint, other protocols and other flows are untouched") {
    TcpSequenceRewriter r;
    Frame old = guest({.seq = 777, .payload = "old connection"});
    Frame copy = old;
    CHECK(r.outgoing(old) == Rewrite::unchanged);
    CHECK(old == copy);
    Frame udp = lockstep_test::udp("dns");
    CHECK(r.outgoing(udp) == Rewrite::unchanged);
    CHECK(r.incoming(udp) == Rewrite::unchanged);
    client_handshake(r);
    Segment other{.seq = kClientIsn, .ack = kPrimaryIsn + 5, .source_port = 40001, .destination_port = kGuestPort,
                  .from_client = true};
    Frame other_flow = lockstep_test::with_checksum(lockstep_test::tcp(other));
    copy = other_flow;
    CHECK(r.incoming(other_flow) == Rewrite::unchanged);
    CHECK(other_flow == copy);
}

TEST_CASE("tcp rewriter: data before the difference is known is reported, not guessed") {
    TcpSequenceRewriter r;
    Frame syn_ack = guest({.seq = kBackupIsn, .ack = kClientIsn + 1, .flags = 0x12});
    r.outgoing(syn_ack);
    Frame early = guest({.seq = kBackupIsn + 1, .payload = "too soon"});
    Frame copy = early;
    CHECK(r.outgoing(early) == Rewrite::unknown);
    CHECK(early == copy);
    CHECK(r.stats().unknown == 1);
}

TEST_CASE("tcp rewriter: equal ISNs need no rewrite; a repeated SYN-ACK after learning is rewritten") {
    TcpSequenceRewriter r;
    Frame same_isn = guest({.seq = kPrimaryIsn, .ack = kClientIsn + 1, .flags = 0x12});
    r.outgoing(same_isn);
    Frame ack = client({.seq = kClientIsn + 1, .ack = kPrimaryIsn + 1});
    CHECK(r.incoming(ack) == Rewrite::unchanged);
    CHECK(r.stats().learned == 1);

    TcpSequenceRewriter s;
    client_handshake(s);
    Frame again = guest({.seq = kBackupIsn, .ack = kClientIsn + 1, .flags = 0x12});
    CHECK(s.outgoing(again) == Rewrite::rewritten);
    CHECK(parsed(again).seq == kPrimaryIsn);
    CHECK(checksum_ok(again));
}

TEST_CASE("tcp rewriter: a reset ends a connection; a checkpoint clears the table; FIN both ways makes room") {
    TcpSequenceRewriter r;
    client_handshake(r);
    CHECK(r.connections() == 1);
    Frame reset = client({.seq = kClientIsn + 1, .ack = kPrimaryIsn + 1, .flags = 0x14});
    r.incoming(reset);
    CHECK(r.connections() == 0);
    CHECK(r.stats().ended == 1);

    client_handshake(r);
    r.reset();
    CHECK(r.connections() == 0);
    Frame after = client({.seq = kClientIsn + 1, .ack = kPrimaryIsn + 1});
    CHECK(r.incoming(after) == Rewrite::unchanged);  // the guests agree again

    TcpSequenceRewriter full;
    for (std::uint16_t port = 1; port <= TcpSequenceRewriter::kMaxConnections; ++port) {
        Segment s{.seq = port, .flags = 0x02, .source_port = kGuestPort, .destination_port = port};
        Frame syn = lockstep_test::tcp(s);
        full.outgoing(syn);
    }
    CHECK(full.connections() == TcpSequenceRewriter::kMaxConnections);
    Frame one_more = guest({.seq = 5, .flags = 0x02});
    full.outgoing(one_more);
    CHECK(full.stats().table_full == 1);
    // Port 1's connection closes both ways: its entry is reused.
    Segment fin_out{.seq = 2, .flags = 0x11, .source_port = kGuestPort, .destination_port = 1};
    Frame f1 = lockstep_test::tcp(fin_out);
    full.outgoing(f1);
    Segment fin_in{.seq = 9, .ack = 3, .flags = 0x11, .source_port = 1, .destination_port = kGuestPort,
                   .from_client = true};
    Frame f2 = lockstep_test::tcp(fin_in);
    full.incoming(f2);
    full.outgoing(one_more);
    CHECK(full.stats().table_full == 1);
    CHECK(full.connections() == TcpSequenceRewriter::kMaxConnections);
}

TEST_CASE("tcp rewriter: the same ports again after a close both ways are a new connection with a new ISN") {
    TcpSequenceRewriter r;
    client_handshake(r);
    Frame fin_out = guest({.seq = kBackupIsn + 1, .ack = kClientIsn + 1, .flags = 0x11});
    CHECK(r.outgoing(fin_out) == Rewrite::rewritten);
    Frame fin_in = client({.seq = kClientIsn + 1, .ack = kPrimaryIsn + 2, .flags = 0x11});
    CHECK(r.incoming(fin_in) == Rewrite::rewritten);
    CHECK(parsed(fin_in).ack == kBackupIsn + 2);
    // The client connects again from the same port: the backup's new SYN-ACK is not the old one.
    constexpr std::uint32_t kNewBackupIsn = 0x22222222, kNewPrimaryIsn = 0x33333333;
    Frame syn_ack = guest({.seq = kNewBackupIsn, .ack = kClientIsn + 1001, .flags = 0x12});
    Frame copy = syn_ack;
    CHECK(r.outgoing(syn_ack) == Rewrite::unchanged);
    CHECK(syn_ack == copy);
    Frame ack = client({.seq = kClientIsn + 1001, .ack = kNewPrimaryIsn + 1});
    CHECK(r.incoming(ack) == Rewrite::rewritten);
    CHECK(parsed(ack).ack == kNewBackupIsn + 1);
    CHECK(r.connections() == 1);
}
