// A misbehaving device: ring heads out of range or outside what the device may own. The driver
// must notice, stop the device, report through health(), never touch memory out of bounds, and
// recover on restart. Also checks the fakes' own guards (DMA outside the driver's buffers).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "helpers.hpp"
#include "nic_test_rig.hpp"

using namespace tandem::nic;
using namespace tandem::nic::e1000;
using test::CollectSink;
using test::FakeDmaMemory;
using test::kMacA;
using test::kMacB;
using test::make_frame;
using test::Octets;
using test::Rig;
using test::send;

TEST_SUITE("e1000") {

TEST_CASE("e1000: a receive head out of range stops the NIC with a clear error; restart recovers") {
    Rig rig;
    REQUIRE(rig.nic.start(NicOptions{16, 16, false}).ok());
    rig.device.inject(make_frame(kMacA, kMacB, 64, 1));
    rig.device.break_rdh(0x4000);
    CollectSink sink;
    CHECK(rig.nic.receive(sink, 16) == 0);
    CHECK(sink.frames.empty());
    tandem::Status h = rig.nic.health();
    REQUIRE_FALSE(h.ok());
    CHECK(test::message(h.error()) == "e1000: receive head out of range");
    CHECK(h.error().value == 0x4000);
    // The device was told to stop, and the NIC does nothing any more.
    CHECK((rig.device.reg(kRctl) & rctl::kEn) == 0);
    CHECK((rig.device.reg(kTctl) & tctl::kEn) == 0);
    CHECK(send(rig.nic, make_frame(kMacB, kMacA, 64)) == 0);
    CHECK(rig.nic.receive(sink, 16) == 0);
    CHECK(rig.nic.tx_pending() == 0);
    test::StringWriter w;
    tandem::print(w, "{}", h.error());
    CHECK(w.str() == "e1000: receive head out of range (0x4000)");

    REQUIRE(rig.nic.start(NicOptions{16, 16, false}).ok());
    CHECK(rig.nic.health().ok());
    rig.device.inject(make_frame(kMacA, kMacB, 64, 2));
    CHECK(send(rig.nic, make_frame(kMacB, kMacA, 64, 3)) == 1);
    auto got = rig.drain();
    REQUIRE(got.size() == 1);
    CHECK(got[0] == make_frame(kMacA, kMacB, 64, 2));
    CHECK(rig.dma.allocations() == 4);  // same DMA memory reused
}

TEST_CASE("e1000: a transmit head out of range is found when the ring is full") {
    Rig rig;
    REQUIRE(rig.nic.start(NicOptions{16, 8, false}).ok());
    rig.device.knobs.tx_stalled = true;
    std::vector<Octets> batch(7, make_frame(kMacB, kMacA, 64));
    CHECK(send(rig.nic, batch) == 7);
    rig.device.break_tdh(9);
    CHECK(send(rig.nic, batch) == 0);
    tandem::Status h = rig.nic.health();
    REQUIRE_FALSE(h.ok());
    CHECK(test::message(h.error()) == "e1000: transmit head outside the descriptors in flight");
    CHECK(h.error().value == 9);
    CHECK((rig.device.reg(kTctl) & tctl::kEn) == 0);
}

TEST_CASE("e1000: a transmit head inside the ring but beyond the tail is caught by tx_pending") {
    Rig rig;
    REQUIRE(rig.nic.start(NicOptions{16, 16, false}).ok());
    rig.device.knobs.tx_stalled = true;
    std::vector<Octets> batch(3, make_frame(kMacB, kMacA, 64));
    CHECK(send(rig.nic, batch) == 3);  // descriptors 0-2 in flight, TDT = 3
    SUBCASE("head within the in-flight descriptors is fine") {
        rig.device.break_tdh(2);
        CHECK(rig.nic.tx_pending() == 3);
        CHECK(rig.nic.health().ok());
    }
    SUBCASE("head at the tail (all sent, write-back pending) is fine") {
        rig.device.break_tdh(3);
        CHECK(rig.nic.tx_pending() == 3);
        CHECK(rig.nic.health().ok());
    }
    SUBCASE("head past the tail is a device fault") {
        rig.device.break_tdh(5);
        CHECK(rig.nic.tx_pending() == 0);
        REQUIRE_FALSE(rig.nic.health().ok());
        CHECK(rig.nic.health().error().value == 5);
    }
}

TEST_CASE("e1000: a head that wrapped around is judged modulo the ring") {
    Rig rig;
    REQUIRE(rig.nic.start(NicOptions{16, 8, false}).ok());
    std::vector<Octets> five(5, make_frame(kMacB, kMacA, 64));
    CHECK(send(rig.nic, five) == 5);
    CHECK(rig.nic.tx_pending() == 0);  // clean = tail = 5
    rig.device.knobs.tx_stalled = true;
    CHECK(send(rig.nic, five) == 5);  // in flight: 5, 6, 7, 0, 1; TDT = 2
    rig.device.break_tdh(0);
    CHECK(rig.nic.tx_pending() == 5);
    CHECK(rig.nic.health().ok());
    rig.device.break_tdh(3);
    CHECK(rig.nic.tx_pending() == 0);
    CHECK_FALSE(rig.nic.health().ok());
}

TEST_CASE("e1000: the fake DMA memory refuses addresses the driver never had, and released ones") {
    FakeDmaMemory dma;
    dma.expect_violations();
    auto a = dma.allocate(100);
    REQUIRE(a.ok());
    CHECK(a->size == 4096);
    CHECK(a->phys % 4096 == 0);
    CHECK(dma.translate(a->phys, 4096) == a->cpu);
    CHECK(dma.translate(a->phys + 4095, 1) == a->cpu + 4095);
    CHECK(dma.translate(a->phys + 4095, 2) == nullptr);  // runs into the guard page
    CHECK(dma.translate(a->phys + 4096, 1) == nullptr);
    CHECK(dma.translate(0x1000, 16) == nullptr);
    dma.release(*a);
    CHECK(dma.translate(a->phys, 16) == nullptr);
    dma.release(*a);  // twice
    CHECK(dma.violations().size() == 5);
    CHECK(dma.violations().front().find("outside the memory the driver allocated") != std::string::npos);
}

TEST_CASE("e1000: the fake device refuses a ring the driver did not allocate") {
    FakeDmaMemory dma;
    dma.expect_violations();
    test::FakeE1000 dev(dma, kMacA);
    dev.expect_violations();
    dev.write32(kTdbal.offset, 0x1000);
    dev.write32(kTdlen.offset, 128);
    dev.write32(kTctl.offset, tctl::kEn);
    dev.write32(kTdt.offset, 1);
    CHECK(dma.violations().size() == 1);
    dev.write32(kRdlen.offset, 100);  // not a multiple of 128
    dev.write32(kRctl.offset, rctl::kEn);
    dev.inject(make_frame(kMacA, kMacB, 64));
    CHECK(dev.violations().size() == 1);
    dev.write32(kIms.offset, 1);
    CHECK(dev.violations().size() == 2);
    CHECK(dev.read32(0x20000) == 0xffff'ffffu);
    CHECK(dev.violations().size() == 3);
}

}  // TEST_SUITE
