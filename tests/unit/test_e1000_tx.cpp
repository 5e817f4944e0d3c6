// E1000 transmit against the fake 82540EM: single frames, batches with one doorbell, malformed
// frames, a full ring and reclaim, ring wrap-around, device-reported errors.
#include <doctest/doctest.h>

#include <vector>

#include "nic_test_rig.hpp"

using namespace tandem::nic;
using namespace tandem::nic::e1000;
using test::kMacA;
using test::kMacB;
using test::make_frame;
using test::Octets;
using test::Rig;
using test::send;

TEST_SUITE("e1000") {

TEST_CASE("e1000: one frame goes out unchanged, with FCS insertion asked for, and is reclaimed") {
    Rig rig;
    REQUIRE(rig.nic.start().ok());
    unsigned doorbells = rig.device.tdt_writes();  // setup wrote TDT = 0 once
    Octets f = make_frame(kMacB, kMacA, 100, 7);
    CHECK(send(rig.nic, f) == 1);
    REQUIRE(rig.device.wire().size() == 1);
    CHECK(rig.device.wire().front() == f);
    CHECK(rig.device.tdt_writes() == doorbells + 1);
    CHECK(rig.device.reg(kTdt) == 1);
    CHECK(rig.device.tx_without_fcs() == 0);
    CHECK(rig.nic.tx_pending() == 0);
    NicCounters c = rig.nic.counters();
    CHECK(c.tx_frames == 1);
    CHECK(c.tx_bytes == 100);
    CHECK(c.tx_dropped == 0);
    CHECK(c.tx_errors == 0);
}

TEST_CASE("e1000: a batch is queued with a single tail write, in order") {
    Rig rig;
    REQUIRE(rig.nic.start().ok());
    unsigned doorbells = rig.device.tdt_writes();
    std::vector<Octets> batch;
    std::uint64_t bytes = 0;
    for (std::uint32_t i = 0; i < 32; ++i) {
        batch.push_back(make_frame(kMacB, kMacA, 60 + i * 40, i));
        bytes += batch.back().size();
    }
    CHECK(send(rig.nic, batch) == 32);
    CHECK(rig.device.tdt_writes() == doorbells + 1);
    REQUIRE(rig.device.wire().size() == 32);
    for (std::size_t i = 0; i < 32; ++i) CHECK(rig.device.wire()[i] == batch[i]);
    CHECK(rig.nic.counters().tx_bytes == bytes);
    CHECK(send(rig.nic, std::vector<Octets>{}) == 0);
    CHECK(rig.device.tdt_writes() == doorbells + 1);  // an empty batch rings no doorbell
}

TEST_CASE("e1000: malformed frames are taken and dropped; short frames are padded by the device") {
    Rig rig;
    REQUIRE(rig.nic.start().ok());
    std::vector<Octets> batch = {
        make_frame(kMacB, kMacA, 13),    // shorter than a header: dropped
        make_frame(kMacB, kMacA, 14),    // a bare header: sent, padded to 60 by TCTL.PSP
        make_frame(kMacB, kMacA, 1518),  // the largest frame (with a VLAN tag)
        make_frame(kMacB, kMacA, 1519),  // too long: dropped
        Octets{},                        // empty: dropped
        make_frame(kMacB, kMacA, 61),
    };
    CHECK(send(rig.nic, batch) == batch.size());
    auto& wire = rig.device.wire();
    REQUIRE(wire.size() == 3);
    CHECK(wire[0].size() == 60);
    CHECK(Octets(wire[0].begin(), wire[0].begin() + 14) == batch[1]);
    CHECK(wire[1] == batch[2]);
    CHECK(wire[2] == batch[5]);
    NicCounters c = rig.nic.counters();
    CHECK(c.tx_frames == 3);
    CHECK(c.tx_dropped == 3);
    CHECK(c.tx_bytes == 14 + 1518 + 61);
}

TEST_CASE("e1000: a full ring takes fewer frames, and takes more once the device catches up") {
    Rig rig;
    REQUIRE(rig.nic.start(NicOptions{256, 8, false}).ok());
    rig.device.knobs.tx_stalled = true;
    std::vector<Octets> batch;
    for (std::uint32_t i = 0; i < 10; ++i) batch.push_back(make_frame(kMacB, kMacA, 64, i));
    CHECK(send(rig.nic, batch) == 7);  // 8 descriptors, one always free
    CHECK(rig.nic.tx_pending() == 7);
    CHECK(send(rig.nic, batch[7]) == 0);
    CHECK(rig.nic.health().ok());  // a busy device is not a broken one
    CHECK(rig.device.wire().empty());

    rig.device.resume_tx();
    CHECK(rig.device.wire().size() == 7);
    CHECK(rig.nic.tx_pending() == 0);
    std::vector<Octets> rest(batch.begin() + 7, batch.end());
    CHECK(send(rig.nic, rest) == 3);
    REQUIRE(rig.device.wire().size() == 10);
    for (std::size_t i = 0; i < 10; ++i) CHECK(rig.device.wire()[i] == batch[i]);

    SUBCASE("a full ring with nothing done yet still accepts malformed frames (they are dropped)") {
        rig.device.knobs.tx_stalled = true;
        std::vector<Octets> fill(7, make_frame(kMacB, kMacA, 64));
        CHECK(send(rig.nic, fill) == 7);
        CHECK(send(rig.nic, std::vector<Octets>{Octets(3, 0), make_frame(kMacB, kMacA, 64)}) == 1);
        CHECK(rig.nic.counters().tx_dropped == 1);
    }
}

TEST_CASE("e1000: thousands of frames wrap the transmit ring, every frame intact and in order") {
    Rig rig;
    REQUIRE(rig.nic.start(NicOptions{256, 16, false}).ok());
    constexpr std::uint32_t kFrames = 5000;
    std::uint32_t sent = 0;
    std::size_t checked = 0;
    std::uint64_t bytes = 0;
    while (sent < kFrames) {
        std::vector<Octets> batch;
        std::uint32_t n = 1 + sent % 11;  // batches of 1-11 frames, so the tail lands everywhere
        for (std::uint32_t i = 0; i < n && sent + i < kFrames; ++i) {
            batch.push_back(make_frame(kMacB, kMacA, 60 + (sent + i) * 37 % 1450, sent + i));
        }
        std::size_t taken = send(rig.nic, batch);
        REQUIRE(taken == batch.size());
        for (const Octets& f : batch) bytes += f.size();
        sent += static_cast<std::uint32_t>(taken);
        auto& wire = rig.device.wire();
        while (!wire.empty()) {
            REQUIRE(wire.front() ==
                    make_frame(kMacB, kMacA, 60 + checked * 37 % 1450, static_cast<std::uint32_t>(checked)));
            wire.pop_front();
            ++checked;
        }
    }
    CHECK(checked == kFrames);
    CHECK(rig.nic.tx_pending() == 0);
    CHECK(rig.device.reg(kTdt) == kFrames % 16);
    CHECK(rig.device.reg(kTdh) == kFrames % 16);
    NicCounters c = rig.nic.counters();
    CHECK(c.tx_frames == kFrames);
    CHECK(c.tx_bytes == bytes);
}

TEST_CASE("e1000: wrap-around with a stalling device: the ring fills and drains many times") {
    Rig rig;
    REQUIRE(rig.nic.start(NicOptions{256, 8, false}).ok());
    std::size_t offered = 0;
    std::size_t queued = 0;
    for (int round = 0; round < 300; ++round) {
        rig.device.knobs.tx_stalled = true;
        std::vector<Octets> batch;
        for (std::uint32_t i = 0; i < 9; ++i)
            batch.push_back(make_frame(kMacB, kMacA, 64, static_cast<std::uint32_t>(offered + i)));
        std::size_t taken = send(rig.nic, batch);
        CHECK(taken == 7);
        offered += taken;
        queued += taken;
        rig.device.resume_tx();
    }
    REQUIRE(rig.device.wire().size() == queued);
    for (std::size_t i = 0; i < queued; ++i) {
        CHECK(rig.device.wire()[i] == make_frame(kMacB, kMacA, 64, static_cast<std::uint32_t>(i)));
    }
}

TEST_CASE("e1000: collisions reported in the descriptor status are counted as transmit errors") {
    Rig rig;
    REQUIRE(rig.nic.start().ok());
    rig.device.knobs.tx_extra_status = tx_status::kEc;
    CHECK(send(rig.nic, make_frame(kMacB, kMacA, 64)) == 1);
    rig.device.knobs.tx_extra_status = tx_status::kLc;
    CHECK(send(rig.nic, make_frame(kMacB, kMacA, 64)) == 1);
    rig.device.knobs.tx_extra_status = 0;
    CHECK(send(rig.nic, make_frame(kMacB, kMacA, 64)) == 1);
    CHECK(rig.nic.tx_pending() == 0);
    NicCounters c = rig.nic.counters();
    CHECK(c.tx_errors == 2);
    CHECK(c.tx_frames == 3);
}

}  // TEST_SUITE
