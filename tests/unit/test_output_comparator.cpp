// The lockstep output comparator (replication/lockstep/output_comparator.hpp): what leaves for the
// client, when, and what makes the pair checkpoint.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "lockstep_frames.hpp"
#include "replication/lockstep/output_comparator.hpp"

using namespace tandem;
using namespace tandem::lockstep;
using lockstep_test::Segment;
using lockstep_test::tcp;
using Frame = std::vector<std::uint8_t>;

namespace {

constexpr std::uint64_t kMs = 1'000'000;
constexpr std::uint64_t kWait = 20 * kMs;

using ClientNic = lockstep_test::RecordingNic;

struct Rig {
    explicit Rig(std::size_t slots = 16)
        : storage(2 * slots * OutputComparator::kSlotSize), comparator(storage, nic, kWait) {}
    bool primary(const Frame& f) { return comparator.primary_output(f, now); }
    void backup(const Frame& f) { comparator.backup_output(f, comparator.generation(), now); }
    const ComparatorStats& stats() const { return comparator.stats(); }
    std::uint64_t divergences(Divergence d) const { return stats().divergences[static_cast<std::size_t>(d)]; }
    std::uint64_t total_divergences() const {
        std::uint64_t n = 0;
        for (auto d : stats().divergences) n += d;
        return n;
    }
    std::uint64_t now = 1000 * kMs;
    ClientNic nic;
    std::vector<std::uint8_t> storage;
    OutputComparator comparator;
};

}  // namespace

TEST_CASE("comparator: equal output leaves at once, the backup's copy is dropped") {
    Rig r;
    Frame reply = tcp({.seq = 1000, .flags = 0x18, .payload = "HTTP/1.1 200 OK"});
    CHECK(r.primary(reply));
    CHECK(r.nic.sent.empty());
    CHECK(r.comparator.primary_waiting() == 1);
    r.now += 3 * kMs;
    r.backup(reply);
    REQUIRE(r.nic.sent.size() == 1);
    CHECK(r.nic.sent[0] == reply);  // the primary's frame, byte for byte
    CHECK(r.comparator.primary_waiting() == 0);
    CHECK(r.comparator.backup_waiting() == 0);
    CHECK(r.stats().released_matched == 1);
    CHECK(r.stats().lag_max_ns == 3 * kMs);
    CHECK(r.comparator.poll(r.now + 10 * kWait) == Divergence::none);
}

TEST_CASE("comparator: the backup first, then the primary, also matches") {
    Rig r;
    Frame reply = tcp({.seq = 1000, .flags = 0x18, .payload = "abc"});
    r.backup(reply);
    CHECK(r.comparator.backup_waiting() == 1);
    CHECK(r.primary(reply));
    CHECK(r.nic.sent.size() == 1);
    CHECK(r.comparator.backup_waiting() == 0);
}

TEST_CASE("comparator: different segmentation of the same bytes is released") {
    Rig r;
    SUBCASE("one primary segment, two backup segments") {
        r.primary(tcp({.seq = 1000, .payload = "0123456789"}));
        r.backup(tcp({.seq = 1000, .payload = "0123"}));
        CHECK(r.nic.sent.empty());  // bytes 4-9 not yet seen from the backup
        r.backup(tcp({.seq = 1004, .payload = "456789"}));
        CHECK(r.nic.sent.size() == 1);
    }
    SUBCASE("two primary segments, one backup segment") {
        r.primary(tcp({.seq = 1000, .payload = "01234"}));
        r.primary(tcp({.seq = 1005, .payload = "56789"}));
        r.backup(tcp({.seq = 1000, .payload = "0123456789"}));
        CHECK(r.nic.sent.size() == 2);
    }
    SUBCASE("overlapping backup segments (a retransmission with more data)") {
        r.backup(tcp({.seq = 1000, .payload = "0123"}));
        r.backup(tcp({.seq = 1000, .payload = "012345"}));
        r.primary(tcp({.seq = 1002, .payload = "2345"}));
        CHECK(r.nic.sent.size() == 1);
    }
    CHECK(r.comparator.primary_waiting() == 0);
    CHECK(r.comparator.backup_waiting() == 0);
    CHECK(r.total_divergences() == 0);
}

TEST_CASE("comparator: headers the guests may disagree on are not compared") {
    Rig r;
    Frame p = tcp({.seq = 7, .payload = "same bytes", .ip_id = 100, .window = 5000, .ttl = 64, .option_words = 3});
    Frame b = tcp({.seq = 7, .payload = "same bytes", .ip_id = 999, .window = 900, .ttl = 63, .option_words = 3,
                   .option_fill = 0x08});
    Frame b_no_options = tcp({.seq = 7, .payload = "same bytes", .ip_id = 3});
    r.primary(p);
    SUBCASE("other IP ID, TTL, window and option bytes") { r.backup(b); }
    SUBCASE("no TCP options at all") { r.backup(b_no_options); }
    REQUIRE(r.nic.sent.size() == 1);
    CHECK(r.nic.sent[0] == p);
    CHECK(r.total_divergences() == 0);
}

TEST_CASE("comparator: one flipped payload byte is exactly one divergence, and the frame waits for the checkpoint") {
    Rig r;
    Frame p = tcp({.seq = 1000, .payload = "balance=100"});
    r.primary(p);
    r.backup(tcp({.seq = 1000, .payload = "balance=101"}));
    CHECK(r.nic.sent.empty());
    CHECK(r.comparator.divergence() == Divergence::mismatch);
    CHECK(r.divergences(Divergence::mismatch) == 1);
    // More output before the checkpoint: still one divergence to answer.
    r.primary(tcp({.seq = 1011, .payload = "more"}));
    r.backup(tcp({.seq = 1011, .payload = "MORE"}));
    CHECK(r.comparator.poll(r.now + 10 * kWait) == Divergence::mismatch);
    CHECK(r.total_divergences() == 1);
    CHECK(r.comparator.start_generation(7));  // the checkpoint of epoch 7 was taken
    REQUIRE(r.nic.sent.size() == 2);  // released under output commit, in order
    CHECK(r.nic.sent[0] == p);
    CHECK(r.stats().released_committed == 2);
    CHECK(r.comparator.divergence() == Divergence::none);
    CHECK(r.comparator.backup_waiting() == 0);
}

TEST_CASE("comparator: SYN, FIN and RST must agree") {
    Rig r;
    SUBCASE("SYN-ACK with the same initial sequence number matches") {
        r.primary(tcp({.seq = 5555, .flags = 0x12}));
        r.backup(tcp({.seq = 5555, .flags = 0x12, .window = 1}));
        CHECK(r.nic.sent.size() == 1);
        CHECK(r.total_divergences() == 0);
    }
    SUBCASE("SYN-ACK with another ISN matches by its flags (the backup rewrites what follows)") {
        r.primary(tcp({.seq = 5555, .flags = 0x12}));
        r.backup(tcp({.seq = 0x9999, .flags = 0x12}));
        CHECK(r.nic.sent.size() == 1);
        CHECK(r.comparator.backup_waiting() == 0);
        r.backup(tcp({.seq = 0x9999, .flags = 0x12}));  // the backup's SYN-ACK again: late, dropped
        CHECK(r.comparator.backup_waiting() == 0);
        CHECK(r.stats().backup_late == 1);
        r.primary(tcp({.seq = 5556, .payload = "data"}));  // what follows compares in the primary's numbers
        r.backup(tcp({.seq = 5556, .payload = "data"}));
        CHECK(r.nic.sent.size() == 2);
        CHECK(r.total_divergences() == 0);
    }
    SUBCASE("a SYN-ACK against a plain SYN differs") {
        r.primary(tcp({.seq = 5555, .flags = 0x12}));
        r.backup(tcp({.seq = 5555, .flags = 0x02}));
        CHECK(r.comparator.divergence() == Divergence::mismatch);
    }
    SUBCASE("a FIN where the other guest sends data differs") {
        r.primary(tcp({.seq = 100, .flags = 0x11, .payload = "end"}));
        r.backup(tcp({.seq = 100, .payload = "endmore"}));
        CHECK(r.comparator.divergence() == Divergence::mismatch);
    }
    SUBCASE("data where the other guest ended the stream differs") {
        r.primary(tcp({.seq = 100, .payload = "endmore"}));
        r.backup(tcp({.seq = 100, .flags = 0x11, .payload = "end"}));
        CHECK(r.comparator.divergence() == Divergence::mismatch);
    }
    SUBCASE("a FIN waits for the backup's FIN even when the bytes match") {
        r.primary(tcp({.seq = 100, .flags = 0x11, .payload = "bye"}));
        r.backup(tcp({.seq = 100, .payload = "bye"}));
        CHECK(r.nic.sent.empty());
        r.backup(tcp({.seq = 103, .flags = 0x11}));
        CHECK(r.nic.sent.size() == 1);
    }
    SUBCASE("a RST waits for the backup's RST at the same place") {
        r.primary(tcp({.seq = 300, .flags = 0x04}));
        r.backup(tcp({.seq = 301, .flags = 0x04}));
        CHECK(r.nic.sent.empty());
        r.backup(tcp({.seq = 300, .flags = 0x04}));
        CHECK(r.nic.sent.size() == 1);
    }
}

TEST_CASE("comparator: an acknowledgement alone leaves once the backup acknowledged as much") {
    Rig r;
    r.primary(tcp({.seq = 10, .ack = 2000}));
    r.backup(tcp({.seq = 10, .ack = 1500}));
    CHECK(r.nic.sent.empty());
    r.backup(tcp({.seq = 10, .ack = 2000, .window = 3}));
    CHECK(r.nic.sent.size() == 1);
    r.primary(tcp({.seq = 10, .ack = 1800}));  // a duplicate or older acknowledgement
    CHECK(r.nic.sent.size() == 2);
    CHECK(r.comparator.backup_waiting() == 0);  // the backup's acknowledgements are not kept
    CHECK(r.stats().backup_acks == 2);
}

TEST_CASE("comparator: a retransmission of released bytes leaves at once; the backup's late copy is dropped") {
    Rig r;
    Frame data = tcp({.seq = 1000, .payload = "0123456789"});
    r.primary(data);
    r.backup(data);
    CHECK(r.nic.sent.size() == 1);
    r.primary(tcp({.seq = 1000, .payload = "01234"}));  // the primary's timer fired first
    CHECK(r.nic.sent.size() == 2);
    CHECK(r.stats().released_early == 1);
    r.backup(tcp({.seq = 1005, .payload = "56789"}));  // the backup's own retransmission
    CHECK(r.comparator.backup_waiting() == 0);
    CHECK(r.stats().backup_late == 1);
    CHECK(r.comparator.poll(r.now + 10 * kWait) == Divergence::none);
}

TEST_CASE("comparator: a flow's frames leave in order; another flow is not held up") {
    Rig r;
    Frame a1 = tcp({.seq = 100, .payload = "a1"}), a2 = tcp({.seq = 102, .payload = "a2"});
    Frame b1 = tcp({.seq = 900, .payload = "b1", .source_port = 22});
    r.primary(a1);
    r.primary(a2);
    r.primary(b1);
    r.backup(tcp({.seq = 102, .payload = "a2"}));
    CHECK(r.nic.sent.empty());  // a2 matched but waits behind a1
    r.backup(b1);
    REQUIRE(r.nic.sent.size() == 1);
    CHECK(r.nic.sent[0] == b1);
    r.backup(a1);
    REQUIRE(r.nic.sent.size() == 3);
    CHECK(r.nic.sent[1] == a1);
    CHECK(r.nic.sent[2] == a2);
}

TEST_CASE("comparator: UDP and ICMP payloads are compared in order") {
    Rig r;
    Frame q1 = lockstep_test::udp("answer 1"), q2 = lockstep_test::udp("answer 2");
    r.primary(q1);
    r.primary(q2);
    r.backup(lockstep_test::udp("answer 1", {.ip_id = 42}));
    CHECK(r.nic.sent.size() == 1);
    r.backup(lockstep_test::udp("answer 2"));
    CHECK(r.nic.sent.size() == 2);
    r.primary(lockstep_test::icmp_echo_reply(1, 1, "ping"));
    r.backup(lockstep_test::icmp_echo_reply(1, 1, "ping", {.ip_id = 9}));
    CHECK(r.nic.sent.size() == 3);
    CHECK(r.total_divergences() == 0);
    r.primary(lockstep_test::udp("answer 3"));
    r.backup(lockstep_test::udp("answer 4"));
    CHECK(r.comparator.divergence() == Divergence::mismatch);
    r.comparator.start_generation(r.comparator.generation() + 1);
    r.comparator.backup_synced(r.now);
    r.primary(lockstep_test::icmp_echo_reply(1, 2, "ping"));
    r.backup(lockstep_test::icmp_echo_reply(1, 3, "ping"));
    CHECK(r.comparator.divergence() == Divergence::mismatch);
}

TEST_CASE("comparator: ARP and anything not understood leave from the primary uncompared") {
    Rig r;
    r.primary(lockstep_test::arp_reply());
    CHECK(r.nic.sent.size() == 1);
    r.backup(lockstep_test::arp_reply());
    CHECK(r.comparator.backup_waiting() == 0);
    CHECK(r.stats().released_uncompared == 1);
    CHECK(r.comparator.poll(r.now + 10 * kWait) == Divergence::none);
}

TEST_CASE("comparator: output unmatched past the wait bound is a divergence, on either side") {
    Rig r;
    SUBCASE("the primary's") { r.primary(tcp({.payload = "lonely"})); }
    SUBCASE("the backup's") { r.backup(tcp({.payload = "lonely"})); }
    CHECK(r.comparator.poll(r.now + kWait) == Divergence::none);
    CHECK(r.comparator.poll(r.now + kWait + 1) == Divergence::timeout);
    CHECK(r.divergences(Divergence::timeout) == 1);
}

TEST_CASE("comparator: a full queue refuses the frame and forces a checkpoint; nothing is dropped") {
    Rig r(4);
    std::vector<Frame> sent;
    for (std::uint32_t i = 0; i < 4; ++i) {
        sent.push_back(tcp({.seq = 100 + 10 * i, .payload = "0123456789"}));
        CHECK(r.primary(sent.back()));
    }
    Frame fifth = tcp({.seq = 140, .payload = "0123456789"});
    CHECK_FALSE(r.primary(fifth));  // the guest's transmit queue waits
    CHECK(r.comparator.divergence() == Divergence::queue_full);
    r.comparator.start_generation(r.comparator.generation() + 1);
    CHECK(r.nic.sent == sent);
    CHECK(r.primary(fifth));  // offered again, accepted
    CHECK(r.comparator.primary_waiting() == 1);
}

TEST_CASE("comparator: a full flow table is a divergence, not a lost frame") {
    Rig r(OutputComparator::kMaxSlots);
    for (std::uint16_t port = 1; port <= OutputComparator::kMaxFlows; ++port) {
        CHECK(r.primary(tcp({.payload = "x", .source_port = port})));
    }
    CHECK(r.comparator.divergence() == Divergence::none);
    CHECK_FALSE(r.primary(tcp({.payload = "x", .source_port = 9999})));
    CHECK(r.comparator.divergence() == Divergence::queue_full);
}

TEST_CASE("comparator: the backup's output of an older generation is ignored") {
    Rig r;
    Frame p = tcp({.seq = 1000, .payload = "new"});
    CHECK(r.comparator.start_generation(3));
    r.primary(p);
    r.comparator.backup_output(tcp({.seq = 1000, .payload = "old"}), r.comparator.generation() - 1, r.now);
    CHECK(r.comparator.divergence() == Divergence::none);
    CHECK(r.stats().backup_stale == 1);
    CHECK(r.nic.sent.empty());
    r.backup(p);
    CHECK(r.nic.sent.size() == 1);
}

TEST_CASE("comparator: a busy NIC keeps released frames, in order, for the next poll") {
    Rig r;
    Frame a = tcp({.seq = 1, .payload = "a"}), b = tcp({.seq = 2, .payload = "b"});
    r.nic.busy = true;
    r.primary(a);
    r.backup(a);
    r.primary(b);
    r.backup(b);
    CHECK(r.nic.sent.empty());
    CHECK(r.comparator.primary_waiting() == 0);  // matched, waiting for the NIC only
    r.nic.busy = false;
    CHECK(r.comparator.poll(r.now + 10 * kWait) == Divergence::none);  // no timeout for them
    CHECK(r.nic.sent == std::vector<Frame>{a, b});
}

TEST_CASE("comparator: sequence numbers wrap") {
    Rig r;
    r.primary(tcp({.seq = 0xfffffffc, .payload = "wrap-around"}));
    r.backup(tcp({.seq = 0xfffffffc, .payload = "wrap"}));
    CHECK(r.nic.sent.empty());
    r.backup(tcp({.seq = 0, .payload = "-around"}));
    CHECK(r.nic.sent.size() == 1);
    r.primary(tcp({.seq = 0xfffffffe, .payload = "ap-a"}));  // retransmission across the wrap
    CHECK(r.stats().released_early == 1);
}

TEST_CASE("comparator: storage for no slot refuses everything as a full queue") {
    ClientNic nic;
    std::vector<std::uint8_t> none(OutputComparator::kSlotSize);  // half a slot per side
    OutputComparator comparator(none, nic, kWait);
    CHECK_FALSE(comparator.primary_output(lockstep_test::arp_reply(), 0));
    CHECK(comparator.divergence() == Divergence::queue_full);
    comparator.backup_output(tcp({.payload = "x"}), 0, 0);
    CHECK(comparator.poll(1) == Divergence::queue_full);
}

TEST_CASE("comparator: a generation is named by its checkpoint and only ever moves forward") {
    Rig r;
    CHECK(r.comparator.start_generation(12));
    CHECK(r.comparator.generation() == 12);
    CHECK_FALSE(r.comparator.start_generation(12));
    CHECK_FALSE(r.comparator.start_generation(11));
    CHECK(r.comparator.generation() == 12);
}

TEST_CASE("comparator: a new generation's frames wait without the bound until the backup runs from its checkpoint") {
    Rig r;
    CHECK(r.comparator.start_generation(5));
    CHECK_FALSE(r.comparator.synced());
    Frame reply = tcp({.seq = 1000, .payload = "during the checkpoint"});
    CHECK(r.primary(reply));
    r.now += 10 * kWait;  // the checkpoint took long to reach the backup
    CHECK(r.comparator.poll(r.now) == Divergence::none);
    r.comparator.backup_synced(r.now);
    CHECK(r.comparator.poll(r.now + kWait) == Divergence::none);  // the bound counts from the sync
    CHECK(r.comparator.poll(r.now + kWait + 1) == Divergence::timeout);
}

TEST_CASE("comparator: the comparison lag's percentiles, by powers of two microseconds") {
    Rig r;
    CHECK(r.stats().lag_percentile_us(50) == 0);  // nothing matched yet
    std::uint32_t seq = 1000;
    for (int i = 0; i < 10; ++i) {
        Frame f = tcp({.seq = seq, .payload = "0123456789"});
        seq += 10;
        CHECK(r.primary(f));
        r.now += i == 9 ? 100 * kMs : 1 * kMs;  // nine after 1 ms, the last after 100 ms
        r.backup(f);
    }
    CHECK(r.stats().released_matched == 10);
    CHECK(r.stats().lag_percentile_us(50) == 1024);
    CHECK(r.stats().lag_percentile_us(90) == 1024);
    CHECK(r.stats().lag_percentile_us(95) == 131072);
    CHECK(r.stats().lag_max_ns == 100 * kMs);
}
