// The virtio-net device (hypervisor/devices/virtio/virtio_net.hpp) against a host "driver" that
// does what Linux 6.1 does (virtio_net_linux_driver.hpp): the probe and its feature negotiation,
// small and split receive buffers, transmissions in one descriptor, chained or indirect, the
// interrupt line and VRING_AVAIL_F_NO_INTERRUPT, and link changes (Virtio 1.1 §2.6, §4.2.2, §5.1).
#include <cstdint>
#include <cstring>
#include <vector>

#include <doctest/doctest.h>

#include "tests/unit/virtio_net_linux_driver.hpp"

using namespace virtio_linux_test;

TEST_CASE("virtio-net/Linux: probe negotiates VERSION_1, MAC, STATUS and INDIRECT_DESC, and nothing else") {
    Rig r;
    REQUIRE(r.driver->probe());
    CHECK(r.driver->device_features == (kFVersion1 | kFMac | kFStatus | kFIndirect));
    CHECK(r.driver->features == (kFVersion1 | kFMac | kFStatus | kFIndirect));
    CHECK(std::memcmp(r.driver->mac, kMac, 6) == 0);
    CHECK(r.dev->mmio_read(kStatus, 4) == (kAck | kDriver | kFeaturesOk));
    // Feature pages beyond 1 are empty.
    r.driver->w32(kDeviceFeaturesSel, 2);
    CHECK(r.driver->r32(kDeviceFeatures) == 0);
    // Config space: 1-, 2- and 4-byte reads (vm_get), status le16 at 6 with LINK_UP, zeros after.
    CHECK(r.dev->mmio_read(kConfig + 0, 4) == 0x12005452u);
    CHECK(r.dev->mmio_read(kConfig + 4, 2) == 0x5634u);
    CHECK(r.dev->mmio_read(kConfig + 6, 2) == 1u);
    CHECK(r.dev->mmio_read(kConfig + 5, 1) == 0x56u);
    CHECK(r.dev->mmio_read(kConfig + 8, 4) == 0u);
    CHECK(r.dev->mmio_read(kConfig + 0x40, 4) == 0u);
    CHECK(r.driver->r32(kConfigGeneration) == 0);
    // No interrupt yet, and the line was driven low when wired.
    CHECK_FALSE(r.line());
    CHECK(r.driver->r32(kInterruptStatus) == 0);
}

TEST_CASE("virtio-net/Linux: FEATURES_OK refused for a feature not offered or without VERSION_1") {
    for (std::uint64_t extra : {kFEventIdx, kFCsum, kFMrgRxbuf, kFRingPacked, std::uint64_t{1} << 40, std::uint64_t{1} << 63}) {
        CAPTURE(extra);
        Rig r;
        CHECK_FALSE(r.driver->probe(extra));
        CHECK((r.driver->r32(kStatus) & kFeaturesOk) == 0);
        // The driver may retry with the offer (after a reset, as Linux would on a new probe).
        CHECK(r.driver->probe());
    }
    Rig r;
    CHECK_FALSE(r.driver->probe(0, true));
    // Features are fixed once FEATURES_OK is accepted.
    REQUIRE(r.driver->probe());
    r.driver->w32(kDriverFeaturesSel, 0);
    r.driver->w32(kDriverFeatures, 0xffffffff);
    r.driver->add_status(kFeaturesOk);
    CHECK((r.driver->r32(kStatus) & kFeaturesOk) != 0);
}

TEST_CASE("virtio-net/Linux: small receive buffers get header and frame, the line goes up until acknowledged") {
    Rig r;
    r.driver->bring_up(8);
    CHECK(r.dev->mmio_read(kInterruptStatus, 4) == 0);
    Bytes f = frame_of(1, 1514);
    REQUIRE(r.dev->deliver(f));
    CHECK(r.line());
    CHECK(r.lines.rising[kPin] == 1);
    // A second frame while the line is up changes nothing on the line.
    Bytes g = frame_of(2, 60);
    REQUIRE(r.dev->deliver(g));
    CHECK(r.lines.rising[kPin] == 1);
    CHECK(r.driver->interrupt() == 1);
    CHECK_FALSE(r.line());
    CHECK(r.driver->r32(kInterruptStatus) == 0);
    std::uint32_t id = 0, len = 0;
    REQUIRE(r.driver->get_used(r.driver->rx, id, len));
    CHECK(id == 0);
    CHECK(len == kHdr + 1514);
    Bytes hdr = read_guest(r.memory, LinuxDriver::kRxBuffers, kHdr);
    Bytes want_hdr(kHdr, 0);
    want_hdr[10] = 1;  // num_buffers = 1 (§5.1.6.4)
    CHECK(hdr == want_hdr);
    CHECK(read_guest(r.memory, LinuxDriver::kRxBuffers + kHdr, 1514) == f);
    REQUIRE(r.driver->get_used(r.driver->rx, id, len));
    CHECK(id == 1);
    CHECK(len == kHdr + 60);
    CHECK(read_guest(r.memory, LinuxDriver::kRxBuffers + 2048 + kHdr, 60) == g);
    CHECK_FALSE(r.driver->get_used(r.driver->rx, id, len));
    // A VLAN-tagged maximum frame (GOOD_PACKET_LEN) fits; one byte more is dropped.
    REQUIRE(r.dev->deliver(frame_of(3, kGoodPacketLen)));
    CHECK_FALSE(r.dev->deliver(frame_of(4, kGoodPacketLen + 1)));
    CHECK(r.dev->stats().rx_dropped_too_big == 1);
    CHECK(r.dev->stats().rx_frames == 3);
}

TEST_CASE("virtio-net/Linux: receive into a separate header descriptor, chained or indirect") {
    for (bool indirect : {false, true}) {
        CAPTURE(indirect);
        Rig r;
        r.driver->bring_up(0);
        std::uint16_t head = r.driver->add_recvbuf_split(indirect);
        Bytes f = frame_of(9, 1400);
        REQUIRE(r.dev->deliver(f));
        std::uint32_t id = 0, len = 0;
        REQUIRE(r.driver->get_used(r.driver->rx, id, len));
        CHECK(id == head);
        CHECK(len == kHdr + 1400);
        std::uint64_t buf = LinuxDriver::kRxBuffers + 0x80000;
        CHECK(read_guest(r.memory, buf + 10, 2) == Bytes{1, 0});
        Bytes got = read_guest(r.memory, buf + 0x1000, 1000);
        Bytes rest = read_guest(r.memory, buf + 0x2000, 400);
        got.insert(got.end(), rest.begin(), rest.end());
        CHECK(got == f);
        CHECK(r.line());
        CHECK(r.dev->stats().protocol_errors == 0);
    }
}

TEST_CASE("virtio-net/Linux: transmit in one descriptor, chained and indirect; completions interrupt") {
    Rig r;
    r.driver->bring_up();
    Bytes a = frame_of(0x10, 60), b = frame_of(0x20, 1514), c = frame_of(0x30, 700), d = frame_of(0x40, 1518);
    r.driver->xmit(a, LinuxDriver::TxLayout::one);
    CHECK(r.line());
    CHECK(r.driver->interrupt() == 1);
    r.driver->xmit(b, LinuxDriver::TxLayout::chained, 2);
    r.driver->xmit(c, LinuxDriver::TxLayout::indirect, 2);
    r.driver->xmit(d, LinuxDriver::TxLayout::indirect, 19);  // MAX_SKB_FRAGS + 2 segments
    r.driver->xmit(c, LinuxDriver::TxLayout::chained, 5);
    REQUIRE(r.backend.frames.size() == 5);
    CHECK(r.backend.frames[0] == a);
    CHECK(r.backend.frames[1] == b);
    CHECK(r.backend.frames[2] == c);
    CHECK(r.backend.frames[3] == d);
    CHECK(r.backend.frames[4] == c);
    CHECK(r.line());
    CHECK(r.driver->interrupt() == 1);
    std::uint32_t id = 0, len = 0;
    unsigned completions = 0;
    while (r.driver->get_used(r.driver->tx, id, len)) {
        CHECK(len == 0);
        ++completions;
    }
    CHECK(completions == 5);
    CHECK(r.driver->tx.num_free == r.driver->tx.num);
    CHECK(r.dev->stats().tx_frames == 5);
    CHECK(r.dev->stats().protocol_errors == 0);
    CHECK_FALSE(r.line());
}

TEST_CASE("virtio-net/Linux: a busy backend keeps the frame queued; an oversized frame is dropped, not fatal") {
    Rig r;
    r.driver->bring_up();
    r.backend.busy = true;
    r.driver->xmit(frame_of(1, 100), LinuxDriver::TxLayout::one);
    CHECK_FALSE(r.line());
    std::uint32_t id = 0, len = 0;
    CHECK_FALSE(r.driver->get_used(r.driver->tx, id, len));
    r.backend.busy = false;
    r.dev->process_transmit();  // the tick retries
    CHECK(r.backend.frames.size() == 1);
    CHECK(r.line());
    r.driver->interrupt();
    r.driver->xmit(frame_of(2, 1519), LinuxDriver::TxLayout::chained, 3);
    CHECK(r.backend.frames.size() == 1);
    CHECK(r.dev->stats().tx_dropped_too_big == 1);
    CHECK(r.dev->driver_ready());
    CHECK(r.line());  // the buffer came back used
}

TEST_CASE("virtio-net/Linux: VRING_AVAIL_F_NO_INTERRUPT suppresses used-buffer interrupts, not the used ring") {
    Rig r;
    r.driver->bring_up();
    r.driver->set_no_interrupt(r.driver->rx, true);  // NAPI polling: virtqueue_disable_cb
    REQUIRE(r.dev->deliver(frame_of(1)));
    REQUIRE(r.dev->deliver(frame_of(2)));
    CHECK_FALSE(r.line());
    CHECK(r.driver->r32(kInterruptStatus) == 0);
    std::uint32_t id = 0, len = 0;
    CHECK(r.driver->get_used(r.driver->rx, id, len));
    CHECK(r.driver->get_used(r.driver->rx, id, len));
    // Transmit completions are governed by the transmit ring's own flag.
    r.driver->xmit(frame_of(3), LinuxDriver::TxLayout::one);
    CHECK(r.line());
    r.driver->interrupt();
    r.driver->set_no_interrupt(r.driver->tx, true);
    r.driver->xmit(frame_of(4), LinuxDriver::TxLayout::one);
    CHECK_FALSE(r.line());
    // virtqueue_enable_cb: interrupts again from the next used buffer.
    r.driver->set_no_interrupt(r.driver->rx, false);
    REQUIRE(r.dev->deliver(frame_of(5)));
    CHECK(r.line());
    CHECK(r.lines.rising[kPin] == 2);
}

TEST_CASE("virtio-net/Linux: link changes bump ConfigGeneration and raise a config-change interrupt") {
    Rig r;
    r.dev->set_link_up(false);  // before DRIVER_OK: no interrupt, the driver reads it at probe
    CHECK_FALSE(r.line());
    CHECK(r.dev->mmio_read(kConfig + 6, 2) == 0);
    CHECK(r.driver->r32(kConfigGeneration) == 1);
    r.driver->bring_up();
    r.dev->set_link_up(true);
    CHECK(r.line());
    CHECK(r.driver->r32(kConfigGeneration) == 2);
    CHECK(r.dev->mmio_read(kConfig + 6, 2) == 1);
    CHECK(r.driver->interrupt() == 2);
    CHECK_FALSE(r.line());
    REQUIRE(r.dev->deliver(frame_of(1)));
    r.dev->set_link_up(false);
    CHECK(r.driver->interrupt() == 3);
}
