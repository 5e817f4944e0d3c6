// E1000 receive against the fake 82540EM: delivery, address filtering, budgets, ring
// wrap-around, a full ring, frames spanning descriptors, error bits, bad lengths, and the
// copying and callback helpers of nic.hpp.
#include <doctest/doctest.h>

#include <vector>

#include "nic_test_rig.hpp"

using namespace tandem::nic;
using namespace tandem::nic::e1000;
using test::CollectSink;
using test::kBroadcast;
using test::kMacA;
using test::kMacB;
using test::make_frame;
using test::Octets;
using test::Rig;

namespace {
constexpr test::Mac kOther{0x02, 0x00, 0x00, 0x00, 0x00, 0x99};
constexpr test::Mac kMulticast{0x01, 0x00, 0x5e, 0x00, 0x00, 0x01};
}  // namespace

TEST_SUITE("e1000") {

TEST_CASE("e1000: a received frame is delivered exactly, without FCS, and its descriptor returned") {
    Rig rig;
    REQUIRE(rig.nic.start().ok());
    unsigned doorbells = rig.device.rdt_writes();
    Octets f = make_frame(kMacA, kMacB, 200, 3);
    rig.device.inject(f);
    CollectSink sink;
    CHECK(rig.nic.receive(sink, 16) == 1);
    REQUIRE(sink.frames.size() == 1);
    CHECK(sink.frames[0] == f);
    CHECK(rig.device.rdt_writes() == doorbells + 1);
    CHECK(rig.device.reg(kRdt) == 0);  // descriptor 0 went back; the ring keeps one in hand
    CHECK(rig.nic.receive(sink, 16) == 0);
    CHECK(rig.device.rdt_writes() == doorbells + 1);  // nothing received, no doorbell
    NicCounters c = rig.nic.counters();
    CHECK(c.rx_frames == 1);
    CHECK(c.rx_bytes == 200);
    CHECK(c.rx_dropped == 0);
    CHECK(c.rx_errors == 0);
}

TEST_CASE("e1000: the filter passes our address and broadcast; promiscuous passes everything") {
    Rig rig;
    REQUIRE(rig.nic.start().ok());
    rig.device.inject(make_frame(kMacA, kMacB, 64, 1));
    rig.device.inject(make_frame(kOther, kMacB, 64, 2));
    rig.device.inject(make_frame(kBroadcast, kMacB, 64, 3));
    rig.device.inject(make_frame(kMulticast, kMacB, 64, 4));
    auto got = rig.drain();
    REQUIRE(got.size() == 2);
    CHECK(got[0] == make_frame(kMacA, kMacB, 64, 1));
    CHECK(got[1] == make_frame(kBroadcast, kMacB, 64, 3));
    CHECK(rig.device.filtered() == 2);

    REQUIRE(rig.nic.start(NicOptions{256, 256, true}).ok());
    rig.device.inject(make_frame(kOther, kMacB, 64, 2));
    rig.device.inject(make_frame(kMulticast, kMacB, 64, 4));
    CHECK(rig.drain().size() == 2);
}

TEST_CASE("e1000: receive does at most `budget` descriptors per call") {
    Rig rig;
    REQUIRE(rig.nic.start().ok());
    for (std::uint32_t i = 0; i < 10; ++i) rig.device.inject(make_frame(kMacA, kMacB, 80, i));
    CollectSink sink;
    CHECK(rig.nic.receive(sink, 3) == 3);
    CHECK(rig.nic.receive(sink, 0) == 0);
    CHECK(rig.nic.receive(sink, 100) == 7);
    REQUIRE(sink.frames.size() == 10);
    for (std::uint32_t i = 0; i < 10; ++i) CHECK(sink.frames[i] == make_frame(kMacA, kMacB, 80, i));
}

TEST_CASE("e1000: thousands of frames wrap the receive ring, every frame intact and in order") {
    Rig rig;
    REQUIRE(rig.nic.start(NicOptions{16, 256, false}).ok());
    constexpr std::uint32_t kFrames = 10000;
    std::uint32_t injected = 0;
    std::uint32_t checked = 0;
    std::uint64_t bytes = 0;
    CollectSink sink;
    while (checked < kFrames) {
        std::uint32_t burst = 1 + injected % 23;  // sometimes more than the ring holds
        for (std::uint32_t i = 0; i < burst && injected < kFrames; ++i, ++injected) {
            Octets f = make_frame(kMacA, kMacB, 60 + injected * 53 % 1458, injected);
            bytes += f.size();
            rig.device.inject(std::move(f));
        }
        sink.frames.clear();
        std::size_t got = rig.nic.receive(sink, 4 + injected % 29);  // on average more than a burst
        REQUIRE(got == sink.frames.size());
        for (const Octets& f : sink.frames) {
            INFO("frame " << checked << ", missed " << rig.nic.counters().rx_missed);
            REQUIRE(f == make_frame(kMacA, kMacB, 60 + checked * 53 % 1458, checked));
            ++checked;
        }
        if (injected == kFrames && got == 0) break;
    }
    CHECK(checked == kFrames);
    CHECK(rig.device.frames_waiting() == 0);
    NicCounters c = rig.nic.counters();
    CHECK(c.rx_frames == kFrames);
    CHECK(c.rx_bytes == bytes);
    CHECK(c.rx_missed == 0);
}

TEST_CASE("e1000: with every descriptor filled the device waits, then loses frames when its FIFO is full") {
    Rig rig;
    REQUIRE(rig.nic.start(NicOptions{8, 256, false}).ok());
    rig.device.knobs.rx_fifo = 4;
    for (std::uint32_t i = 0; i < 20; ++i) rig.device.inject(make_frame(kMacA, kMacB, 64, i));
    // 7 in descriptors (one is always held back), 4 in the FIFO, 9 lost.
    CHECK(rig.device.frames_waiting() == 4);
    auto got = rig.drain(64);
    REQUIRE(got.size() == 11);
    for (std::uint32_t i = 0; i < 11; ++i) CHECK(got[i] == make_frame(kMacA, kMacB, 64, i));
    CHECK(rig.nic.counters().rx_missed == 9);
    CHECK(rig.nic.counters().rx_missed == 9);  // MPC clears on read; the driver accumulates
}

TEST_CASE("e1000: frames longer than one buffer (DD without EOP) are dropped whole and counted once") {
    Rig rig;
    REQUIRE(rig.nic.start(NicOptions{16, 256, false}).ok());
    rig.device.inject(make_frame(kMacA, kMacB, 100, 1));
    rig.device.inject(make_frame(kMacA, kMacB, 3000, 2));  // two descriptors
    rig.device.inject(make_frame(kMacA, kMacB, 5000, 3));  // three descriptors
    rig.device.inject(make_frame(kMacA, kMacB, 100, 4));
    auto got = rig.drain();
    REQUIRE(got.size() == 2);
    CHECK(got[0] == make_frame(kMacA, kMacB, 100, 1));
    CHECK(got[1] == make_frame(kMacA, kMacB, 100, 4));
    NicCounters c = rig.nic.counters();
    CHECK(c.rx_dropped == 2);
    CHECK(c.rx_frames == 2);

    SUBCASE("a spanning frame split across receive calls is still dropped whole") {
        rig.device.inject(make_frame(kMacA, kMacB, 5000, 5));
        rig.device.inject(make_frame(kMacA, kMacB, 70, 6));
        CollectSink sink;
        CHECK(rig.nic.receive(sink, 1) == 0);  // first part
        CHECK(rig.nic.receive(sink, 1) == 0);  // middle
        CHECK(rig.nic.receive(sink, 1) == 0);  // last part, EOP
        CHECK(rig.nic.receive(sink, 1) == 1);
        REQUIRE(sink.frames.size() == 1);
        CHECK(sink.frames[0] == make_frame(kMacA, kMacB, 70, 6));
        CHECK(rig.nic.counters().rx_dropped == 3);
    }
}

TEST_CASE("e1000: frames with error bits are counted and not delivered; checksum-offload bits are ignored") {
    Rig rig;
    REQUIRE(rig.nic.start().ok());
    const std::uint8_t bad[] = {rx_error::kCe, rx_error::kSe, rx_error::kSeq, rx_error::kCxe, rx_error::kRxe};
    for (std::uint8_t e : bad) rig.device.inject(make_frame(kMacA, kMacB, 64, e), e);
    rig.device.inject(make_frame(kMacA, kMacB, 64, 100), rx_error::kTcpe | rx_error::kIpe);
    auto got = rig.drain();
    REQUIRE(got.size() == 1);
    CHECK(got[0] == make_frame(kMacA, kMacB, 64, 100));
    CHECK(rig.nic.counters().rx_errors == 5);
}

TEST_CASE("e1000: a descriptor length the buffer cannot hold, or no frame at all, is an error, never a read past it") {
    Rig rig;
    REQUIRE(rig.nic.start().ok());
    const std::uint16_t lengths[] = {4000, 2049, 0, 13, 0xffff};
    for (std::uint16_t len : lengths) {
        rig.device.corrupt_next_rx_length(len);
        rig.device.inject(make_frame(kMacA, kMacB, 64, len));
    }
    rig.device.corrupt_next_rx_length(1600);  // fits the buffer, but longer than any frame we accept
    rig.device.inject(make_frame(kMacA, kMacB, 64, 1));
    rig.device.inject(make_frame(kMacA, kMacB, 64, 2));
    auto got = rig.drain();
    REQUIRE(got.size() == 1);
    CHECK(got[0] == make_frame(kMacA, kMacB, 64, 2));
    NicCounters c = rig.nic.counters();
    CHECK(c.rx_errors == 5);
    CHECK(c.rx_dropped == 1);
    CHECK(rig.nic.health().ok());
}

TEST_CASE("nic: receive_into copies frames into caller slots; receive_with takes a callable") {
    Rig rig;
    REQUIRE(rig.nic.start().ok());
    rig.device.inject(make_frame(kMacA, kMacB, 100, 1));
    rig.device.inject(make_frame(kMacA, kMacB, 1000, 2));
    rig.device.inject(make_frame(kMacA, kMacB, 120, 3));
    std::vector<std::uint8_t> big(1518), small(200), other(1518);
    RxSlot slots[] = {{big}, {small}, {other}};
    RxCopyResult r = receive_into(rig.nic, slots);
    CHECK(r.stored == 2);
    CHECK(r.too_long == 1);
    CHECK(Octets(big.begin(), big.begin() + static_cast<long>(slots[0].length)) == make_frame(kMacA, kMacB, 100, 1));
    CHECK(slots[1].length == 120);  // the 1000-byte frame did not fit slot 1; the next one did
    CHECK(Octets(small.begin(), small.begin() + 120) == make_frame(kMacA, kMacB, 120, 3));

    rig.device.inject(make_frame(kMacA, kMacB, 90, 4));
    std::size_t total = 0;
    CHECK(receive_with(rig.nic, 8, [&](Frame f) { total += f.size(); }) == 1);
    CHECK(total == 90);
}

TEST_CASE("e1000: a sink may transmit while receiving (an echo)") {
    Rig rig;
    REQUIRE(rig.nic.start().ok());
    for (std::uint32_t i = 0; i < 5; ++i) rig.device.inject(make_frame(kMacA, kMacB, 64 + i, i));
    std::size_t echoed = 0;
    receive_with(rig.nic, 64, [&](Frame f) {
        Octets reply(f.begin(), f.end());
        for (int i = 0; i < 6; ++i)
            std::swap(reply[static_cast<std::size_t>(i)], reply[static_cast<std::size_t>(6 + i)]);
        echoed += test::send(rig.nic, reply);
    });
    CHECK(echoed == 5);
    REQUIRE(rig.device.wire().size() == 5);
    CHECK(rig.device.wire()[4].size() == 68);
}

}  // TEST_SUITE
