// The virtio-net device (hypervisor/devices/virtio/virtio_net.hpp) against a host "driver" that
// does what Linux 6.1 does (virtio_net_linux_driver.hpp), in checkpoints: state saved mid-traffic
// and restored, older state versions, malformed states refused (DESIGN §6).
#include <cstdint>
#include <vector>

#include <doctest/doctest.h>

#include "tests/unit/virtio_net_linux_driver.hpp"

using namespace virtio_linux_test;

TEST_CASE("virtio-net/Linux: state saved mid-traffic restores to identical behaviour, any number of times") {
    Rig a;
    a.driver->bring_up(8);
    REQUIRE(a.dev->deliver(frame_of(1)));
    a.driver->xmit(frame_of(2, 300), LinuxDriver::TxLayout::indirect);
    a.dev->set_link_up(false);
    // Not acknowledged: InterruptStatus 3 and the line up travel with the state.
    Bytes state = test::saved_state(*a.dev);
    Bytes ram = read_guest(a.memory, 0, kRam);
    // Continue on the original: more traffic.
    auto more = [](Rig& r) {
        REQUIRE(r.dev->deliver(frame_of(3, 1000)));
        r.driver->xmit(frame_of(4, 90), LinuxDriver::TxLayout::chained, 3);
        r.driver->interrupt();
        REQUIRE(r.dev->deliver(frame_of(5, 61)));
    };
    Ring rx_before = a.driver->rx, tx_before = a.driver->tx;
    more(a);
    Bytes ram_after = read_guest(a.memory, 0, kRam);
    Bytes state_after = test::saved_state(*a.dev);

    for (int round = 0; round < 3; ++round) {
        CAPTURE(round);
        Rig b;
        REQUIRE(b.memory.write(0, ram));
        // Restore twice into the same device: the second must not depend on the first.
        REQUIRE(b.dev->restore_state(a.dev->state_version(), state));
        REQUIRE(b.dev->restore_state(a.dev->state_version(), state));
        CHECK(test::saved_state(*b.dev) == state);
        CHECK(b.line());
        CHECK(b.driver->r32(kInterruptStatus) == 3);
        CHECK(b.dev->mmio_read(kConfig + 6, 2) == 0);
        CHECK(b.driver->r32(kConfigGeneration) == 1);
        b.driver->rx = rx_before;
        b.driver->tx = tx_before;
        more(b);
        CHECK(read_guest(b.memory, 0, kRam) == ram_after);
        CHECK(test::saved_state(*b.dev) == state_after);
        REQUIRE(b.backend.frames.size() == 1);
        CHECK(b.backend.frames[0] == frame_of(4, 90));
    }
}

TEST_CASE("virtio-net/Linux: version 1 states are accepted; malformed states refused, the device unchanged") {
    Rig a;
    a.driver->bring_up(4);
    REQUIRE(a.dev->deliver(frame_of(1)));
    Bytes v2 = test::saved_state(*a.dev);
    CHECK(a.dev->state_version() == 2);
    // Version 1: the same without configuration generation (4 bytes) and link (1 byte), which
    // follow InterruptStatus at offset 4 + 4 + 4 + 8 + 4 + 4 = 28.
    Bytes v1 = v2;
    v1.erase(v1.begin() + 28, v1.begin() + 33);
    Rig b;
    REQUIRE(b.memory.write(0, read_guest(a.memory, 0, kRam)));
    REQUIRE(b.dev->restore_state(1, v1));
    CHECK(test::saved_state(*b.dev) == v2);  // generation 0 and link up, as before
    CHECK(b.line());

    Rig c;
    c.driver->bring_up(2);
    Bytes before = test::saved_state(*c.dev);
    for (std::size_t n = 0; n < v2.size(); ++n) {
        CAPTURE(n);
        CHECK_FALSE(c.dev->restore_state(2, {v2.data(), n}).ok());
    }
    Bytes longer = v2;
    longer.push_back(0);
    CHECK_FALSE(c.dev->restore_state(2, longer).ok());
    CHECK_FALSE(c.dev->restore_state(1, v2).ok());
    CHECK_FALSE(c.dev->restore_state(3, v2).ok());
    CHECK_FALSE(c.dev->restore_state(0, v2).ok());
    // Values the device never produces.
    Bytes bad = v2;
    bad[24] = 4;  // InterruptStatus bit 2
    CHECK_FALSE(c.dev->restore_state(2, bad).ok());
    bad = v2;
    bad[32] = 2;  // link
    CHECK_FALSE(c.dev->restore_state(2, bad).ok());
    bad = v2;
    bad[1] = 1;  // Status above 8 bits
    CHECK_FALSE(c.dev->restore_state(2, bad).ok());
    // Regression (found by fuzz.virtio_net): a queue's ready flag other than 0 or 1 was taken as
    // "ready" and saved back as 1, so a restored state did not save as it was given.
    bad = v2;
    bad[33 + 2] = 2;  // rx queue ready
    CHECK_FALSE(c.dev->restore_state(2, bad).ok());
    // A ready queue outside guest RAM.
    bad = v2;
    bad[33 + 3 + 7] = 0x7f;  // rx desc, top byte
    CHECK_FALSE(c.dev->restore_state(2, bad).ok());
    CHECK(test::saved_state(*c.dev) == before);
}
