// The virtio-net device (hypervisor/devices/virtio/virtio_net.hpp) against a host "driver" that
// does what Linux 6.1 does (virtio_net_linux_driver.hpp), when things go wrong: resets mid-run,
// a queue that fails to become ready, malformed rings and descriptors (DEVICE_NEEDS_RESET),
// indirect descriptors not negotiated, and garbage register accesses (Virtio 1.1 §2.1.2, §2.6,
// §4.2.2).
#include <cstdint>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "tests/unit/virtio_net_linux_driver.hpp"

using namespace virtio_linux_test;

TEST_CASE("virtio-net/Linux: writing 0 to Status resets queues, interrupt status and features mid-run") {
    Rig r;
    r.driver->bring_up();
    REQUIRE(r.dev->deliver(frame_of(1)));
    r.driver->xmit(frame_of(2), LinuxDriver::TxLayout::indirect);
    CHECK(r.line());
    r.driver->w32(kStatus, 0);
    CHECK_FALSE(r.line());
    CHECK(r.driver->r32(kInterruptStatus) == 0);
    CHECK(r.driver->r32(kStatus) == 0);
    CHECK_FALSE(r.dev->driver_ready());
    for (unsigned q : {0u, 1u}) {
        r.driver->w32(kQueueSel, q);
        CHECK(r.driver->r32(kQueueReady) == 0);
    }
    // Nothing moves while reset.
    CHECK_FALSE(r.dev->deliver(frame_of(3)));
    r.dev->process_transmit();
    CHECK(r.backend.frames.size() == 1);
    // Linux brings it up again from scratch (fresh rings, new indices).
    r.driver->bring_up();
    REQUIRE(r.dev->deliver(frame_of(4)));
    std::uint32_t id = 0, len = 0;
    REQUIRE(r.driver->get_used(r.driver->rx, id, len));
    CHECK(id == 0);
    r.driver->xmit(frame_of(5), LinuxDriver::TxLayout::indirect);
    CHECK(r.backend.frames.size() == 2);
    CHECK(r.dev->stats().protocol_errors == 0);
}

TEST_CASE("virtio-net/Linux: the interrupt follows a queue-ready failure and a reset clears DEVICE_NEEDS_RESET") {
    Rig r;
    REQUIRE(r.driver->probe());
    r.driver->w32(kQueueSel, 0);
    r.driver->w32(kQueueNum, 256);
    r.driver->w32(kQueueDescLow, 0x1008);  // misaligned
    r.driver->w32(kQueueReady, 1);
    CHECK(r.driver->r32(kQueueReady) == 0);
    CHECK((r.driver->r32(kStatus) & kNeedsReset) != 0);
    CHECK_FALSE(r.line());  // not DRIVER_OK yet: no config interrupt
    r.driver->w32(kStatus, 0);
    CHECK(r.driver->r32(kStatus) == 0);
    r.driver->bring_up();
    CHECK(r.dev->driver_ready());
}

namespace {

// A rig brought up with one receive buffer and the transmit ring ready, for breaking rings.
struct BrokenRig : Rig {
    BrokenRig() { driver->bring_up(0); }
    void expect_needs_reset(const char* what) {
        CAPTURE(what);
        CHECK((driver->r32(kStatus) & kNeedsReset) != 0);
        CHECK_FALSE(dev->driver_ready());
        CHECK(dev->stats().protocol_errors >= 1);
        CHECK(log.str().find("needs a reset") != std::string::npos);
        // §2.1.2: DEVICE_NEEDS_RESET after DRIVER_OK comes with a config-change interrupt.
        CHECK((driver->r32(kInterruptStatus) & 2) != 0);
        CHECK(line());
        // And it stays inert until reset, then works again.
        CHECK_FALSE(dev->deliver(frame_of(1)));
        driver->w32(kStatus, 0);
        CHECK_FALSE(line());
        driver->bring_up(4);
        CHECK(dev->deliver(frame_of(2)));
    }
};

}  // namespace

TEST_CASE("virtio-net/Linux: malformed descriptors are refused without crashing") {
    using D = LinuxDriver;
    SUBCASE("rx chain looping on itself") {
        BrokenRig r;
        r.driver->write_desc(r.driver->rx.desc, D::kRxBuffers, 8, kWrite | kNext, 0);
        r.driver->publish(r.driver->rx, 0);
        CHECK_FALSE(r.dev->deliver(frame_of(1)));
        r.expect_needs_reset("loop");
    }
    SUBCASE("rx chain looping across two descriptors") {
        BrokenRig r;
        r.driver->write_desc(r.driver->rx.desc, D::kRxBuffers, 4, kWrite | kNext, 1);
        r.driver->write_desc(r.driver->rx.desc + 16, D::kRxBuffers, 4, kWrite | kNext, 0);
        r.driver->publish(r.driver->rx, 0);
        CHECK_FALSE(r.dev->deliver(frame_of(1)));
        r.expect_needs_reset("loop of two");
    }
    SUBCASE("buffer outside guest RAM") {
        BrokenRig r;
        r.driver->write_desc(r.driver->rx.desc, kRam - 100, 2048, kWrite, 0);
        r.driver->publish(r.driver->rx, 0);
        CHECK_FALSE(r.dev->deliver(frame_of(1)));
        r.expect_needs_reset("outside RAM");
    }
    SUBCASE("buffer address wrapping around") {
        BrokenRig r;
        r.driver->write_desc(r.driver->tx.desc, ~0ull - 10, 100, 0, 0);
        r.driver->publish(r.driver->tx, 0);
        r.driver->w32(kQueueNotify, 1);
        r.expect_needs_reset("wrapping");
    }
    SUBCASE("next index out of range") {
        BrokenRig r;
        r.driver->write_desc(r.driver->tx.desc, D::kTxBuffers, 12, kNext, 999);
        r.driver->publish(r.driver->tx, 0);
        r.driver->w32(kQueueNotify, 1);
        r.expect_needs_reset("next out of range");
    }
    SUBCASE("head index out of range") {
        BrokenRig r;
        r.driver->publish(r.driver->tx, 4000);
        r.driver->w32(kQueueNotify, 1);
        r.expect_needs_reset("head out of range");
    }
    SUBCASE("available index more than a queue ahead") {
        BrokenRig r;
        r.driver->store<std::uint16_t>(r.driver->rx.avail + 2, 300);
        CHECK_FALSE(r.dev->deliver(frame_of(1)));
        r.expect_needs_reset("avail idx");
    }
    SUBCASE("chain longer than the device takes") {
        BrokenRig r;
        for (std::uint16_t i = 0; i < 100; ++i) {
            r.driver->write_desc(r.driver->tx.desc + 16ull * i, D::kTxBuffers, 1, i == 99 ? 0 : kNext,
                                 static_cast<std::uint16_t>(i + 1));
        }
        r.driver->publish(r.driver->tx, 0);
        r.driver->w32(kQueueNotify, 1);
        r.expect_needs_reset("too long");
    }
    SUBCASE("readable after writable") {
        BrokenRig r;
        r.driver->write_desc(r.driver->rx.desc, D::kRxBuffers, 100, kWrite | kNext, 1);
        r.driver->write_desc(r.driver->rx.desc + 16, D::kRxBuffers + 100, 2000, 0, 0);
        r.driver->publish(r.driver->rx, 0);
        CHECK_FALSE(r.dev->deliver(frame_of(1)));
        r.expect_needs_reset("order");
    }
    SUBCASE("transmit shorter than its header") {
        BrokenRig r;
        r.driver->write_desc(r.driver->tx.desc, D::kTxBuffers, 11, 0, 0);
        r.driver->publish(r.driver->tx, 0);
        r.driver->w32(kQueueNotify, 1);
        r.expect_needs_reset("short");
    }
    SUBCASE("indirect with NEXT") {
        BrokenRig r;
        r.driver->write_desc(D::kIndirectTables, D::kTxBuffers, 100, 0, 0);
        r.driver->write_desc(r.driver->tx.desc, D::kIndirectTables, 16, kIndirect | kNext, 1);
        r.driver->publish(r.driver->tx, 0);
        r.driver->w32(kQueueNotify, 1);
        r.expect_needs_reset("indirect+next");
    }
    SUBCASE("indirect table nested") {
        BrokenRig r;
        r.driver->write_desc(D::kIndirectTables, D::kIndirectTables + 64, 16, kIndirect, 0);
        r.driver->write_desc(D::kIndirectTables + 64, D::kTxBuffers, 100, 0, 0);
        r.driver->write_desc(r.driver->tx.desc, D::kIndirectTables, 16, kIndirect, 0);
        r.driver->publish(r.driver->tx, 0);
        r.driver->w32(kQueueNotify, 1);
        r.expect_needs_reset("nested");
    }
    SUBCASE("indirect table of impossible lengths") {
        for (std::uint32_t len : {0u, 8u, 17u, 16u * 65, 0xfffffff0u}) {
            CAPTURE(len);
            BrokenRig r;
            r.driver->write_desc(r.driver->tx.desc, D::kIndirectTables, len, kIndirect, 0);
            r.driver->publish(r.driver->tx, 0);
            r.driver->w32(kQueueNotify, 1);
            r.expect_needs_reset("indirect length");
        }
    }
    SUBCASE("indirect table outside RAM") {
        BrokenRig r;
        r.driver->write_desc(r.driver->tx.desc, kRam - 16, 32, kIndirect, 0);
        r.driver->publish(r.driver->tx, 0);
        r.driver->w32(kQueueNotify, 1);
        r.expect_needs_reset("indirect outside");
    }
    SUBCASE("loop inside an indirect table") {
        BrokenRig r;
        r.driver->write_desc(D::kIndirectTables, D::kTxBuffers, 12, kNext, 1);
        r.driver->write_desc(D::kIndirectTables + 16, D::kTxBuffers, 12, kNext, 0);
        r.driver->write_desc(r.driver->tx.desc, D::kIndirectTables, 32, kIndirect, 0);
        r.driver->publish(r.driver->tx, 0);
        r.driver->w32(kQueueNotify, 1);
        r.expect_needs_reset("indirect loop");
    }
    SUBCASE("indirect next out of its table") {
        BrokenRig r;
        r.driver->write_desc(D::kIndirectTables, D::kTxBuffers, 12, kNext, 2);
        r.driver->write_desc(D::kIndirectTables + 16, D::kTxBuffers, 12, 0, 0);
        r.driver->write_desc(D::kIndirectTables + 32, D::kTxBuffers, 12, 0, 0);
        r.driver->write_desc(r.driver->tx.desc, D::kIndirectTables, 32, kIndirect, 0);
        r.driver->publish(r.driver->tx, 0);
        r.driver->w32(kQueueNotify, 1);
        r.expect_needs_reset("indirect next");
    }
    SUBCASE("indirect not at the head") {
        BrokenRig r;
        r.driver->write_desc(D::kIndirectTables, D::kTxBuffers + 12, 100, 0, 0);
        r.driver->write_desc(r.driver->tx.desc, D::kTxBuffers, 12, kNext, 1);
        r.driver->write_desc(r.driver->tx.desc + 16, D::kIndirectTables, 16, kIndirect, 0);
        r.driver->publish(r.driver->tx, 0);
        r.driver->w32(kQueueNotify, 1);
        r.expect_needs_reset("indirect not head");
    }
}

TEST_CASE("virtio-net/Linux: indirect descriptors are refused unless negotiated") {
    Rig r;
    // A driver that does not take INDIRECT_DESC (the test guest, or Linux with it masked).
    REQUIRE(r.driver->probe());
    r.driver->w32(kStatus, 0);
    r.driver->add_status(kAck | kDriver);
    r.driver->w32(kDriverFeaturesSel, 1);
    r.driver->w32(kDriverFeatures, 1);
    r.driver->w32(kDriverFeaturesSel, 0);
    r.driver->w32(kDriverFeatures, static_cast<std::uint32_t>(kFMac));
    r.driver->add_status(kFeaturesOk);
    REQUIRE((r.driver->r32(kStatus) & kFeaturesOk) != 0);
    r.driver->setup_vq(0, r.driver->rx, LinuxDriver::kRxRing);
    r.driver->setup_vq(1, r.driver->tx, LinuxDriver::kTxRing);
    r.driver->add_status(kDriverOk);
    r.driver->xmit(frame_of(1), LinuxDriver::TxLayout::chained, 3);
    CHECK(r.backend.frames.size() == 1);
    r.driver->xmit(frame_of(2), LinuxDriver::TxLayout::indirect);
    CHECK(r.backend.frames.size() == 1);
    CHECK((r.driver->r32(kStatus) & kNeedsReset) != 0);
}

TEST_CASE("virtio-net/Linux: garbage register accesses do nothing harmful") {
    Rig r;
    r.driver->bring_up();
    for (std::uint64_t off = 0; off < VirtioMmioNet::kSize; off += 4) {
        for (unsigned size : {1u, 2u, 4u, 8u}) (void)r.dev->mmio_read(off, size);
    }
    r.driver->w32(kQueueSel, 77);
    r.driver->w32(kQueueNum, 16);
    r.driver->w32(kQueueReady, 1);
    r.driver->w32(kQueueNotify, 77);
    r.dev->mmio_write(kStatus, 2, 0);  // not 4 bytes: ignored
    r.dev->mmio_write(kConfig, 4, 0xffffffff);
    CHECK(r.dev->driver_ready());
    // A ready queue cannot be moved.
    r.driver->w32(kQueueSel, 0);
    r.driver->w32(kQueueDescLow, 0x7000);
    REQUIRE(r.dev->deliver(frame_of(1)));
    std::uint32_t id = 0, len = 0;
    CHECK(r.driver->get_used(r.driver->rx, id, len));
}
