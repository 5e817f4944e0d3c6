// The guest's IOAPIC (hypervisor/devices/ioapic_model.hpp), after the 82093AA data sheet: the
// IOREGSEL/IOWIN window and its refused accesses, the ID, version and arbitration registers,
// edge and level-triggered pins with masking and remote IRR, the EOI broadcast from the local
// APIC, delivery to APIC 0 only, and the state in checkpoints. The last cases wire it to the real
// local APIC model, as the VMX layer will.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "device_fakes.hpp"
#include "helpers.hpp"
#include "hypervisor/devices/ioapic_model.hpp"
#include "hypervisor/devices/local_apic_model.hpp"

using tandem::IoApicModel;
using test::status_message;

namespace {

using Messages = std::vector<std::pair<std::uint8_t, bool>>;
constexpr std::uint32_t kMasked = 1u << 16, kLevel = 1u << 15, kRemoteIrr = 1u << 14, kLogical = 1u << 11;

struct IoApic {
    test::RecordingApic apic;
    test::StringWriter log;
    IoApicModel io{apic, log};

    std::uint32_t reg(std::uint8_t index) {
        io.mmio_write(0x00, 4, index);
        return static_cast<std::uint32_t>(io.mmio_read(0x10, 4));
    }
    void set(std::uint8_t index, std::uint32_t value) {
        io.mmio_write(0x00, 4, index);
        io.mmio_write(0x10, 4, value);
    }
    void route(unsigned pin, std::uint32_t low, std::uint32_t high = 0) {
        set(static_cast<std::uint8_t>(0x11 + 2 * pin), high);
        set(static_cast<std::uint8_t>(0x10 + 2 * pin), low);
    }
    std::uint32_t low(unsigned pin) { return reg(static_cast<std::uint8_t>(0x10 + 2 * pin)); }
    std::vector<std::uint8_t> save() const { return test::saved_state(io); }
    std::vector<std::uint32_t> registers() {
        std::vector<std::uint32_t> r;
        std::uint32_t sel = static_cast<std::uint32_t>(io.mmio_read(0, 4));
        for (unsigned i = 0; i < 0x40; ++i) r.push_back(reg(static_cast<std::uint8_t>(i)));
        io.mmio_write(0, 4, sel);
        r.push_back(sel);
        return r;
    }
};

}  // namespace

TEST_SUITE("ioapic") {

TEST_CASE("registers after reset: id 0, version 0x11 with 24 entries, every entry masked") {
    IoApic a;
    CHECK(a.reg(0x00) == 0);
    CHECK(a.reg(0x01) == 0x00170011);
    CHECK(a.reg(0x02) == 0);
    for (unsigned pin = 0; pin < IoApicModel::kPins; ++pin) {
        CHECK(a.low(pin) == kMasked);
        CHECK(a.reg(static_cast<std::uint8_t>(0x11 + 2 * pin)) == 0);
    }
    // IOREGSEL reads back; the ID takes four bits and the arbitration id follows it.
    a.io.mmio_write(0x00, 4, 0x1234);
    CHECK(a.io.mmio_read(0x00, 4) == 0x34);
    a.set(0x00, 0xff000000);
    CHECK(a.reg(0x00) == 0x0f000000);
    CHECK(a.reg(0x02) == 0x0f000000);
    a.set(0x01, 0);
    a.set(0x02, 0);
    CHECK(a.reg(0x01) == 0x00170011);
    CHECK(a.log.str().empty());
}

TEST_CASE("registers the 82093AA does not have read 0 and ignore writes, reported once") {
    IoApic a;
    auto before = a.save();
    CHECK(a.reg(0x03) == 0);
    CHECK(a.reg(0x40) == 0);
    CHECK(a.reg(0xff) == 0);
    a.set(0x40, 0xffffffff);
    a.set(0x0f, 0xffffffff);
    a.io.mmio_write(0, 4, 0);
    CHECK(a.save() == before);
    CHECK(a.log.str() == "vm: ioapic: guest read register 0x3, which the 82093AA does not have: reads 0\n");
}

TEST_CASE("accesses other than 32 bits at IOREGSEL or IOWIN are refused and counted") {
    IoApic a;
    a.io.mmio_write(0x00, 4, 0x10);
    auto before = a.save();
    for (unsigned size : {1u, 2u, 8u}) {
        CAPTURE(size);
        CHECK(a.io.mmio_read(0x10, size) == 0);
        a.io.mmio_write(0x10, size, 0);
        a.io.mmio_write(0x00, size, 0x12);
    }
    for (std::uint64_t offset : {0x04ull, 0x0cull, 0x14ull, 0x20ull, 0x40ull, 0xffcull}) {
        CAPTURE(offset);
        CHECK(a.io.mmio_read(offset, 4) == 0);
        a.io.mmio_write(offset, 4, 0);
    }
    CHECK(a.save() == before);
    CHECK(a.io.stats().refused_accesses == 21);
    CHECK(a.log.str() ==
          "vm: ioapic: refused an access that is not 32 bits wide at IOREGSEL or IOWIN (offset 0x10): reads 0\n");
}

TEST_CASE("redirection entries: writable bits, read-only delivery status and remote IRR, reserved bits") {
    IoApic a;
    a.set(0x10, 0xffffffff);
    CHECK(a.low(0) == 0x0001afff);  // no delivery status (12), no remote IRR (14), nothing above 16
    a.set(0x11, 0xffffffff);
    CHECK(a.reg(0x11) == 0xff000000);  // only the destination
    CHECK(a.io.redirection_entry(0) == 0xff000000'0001afffull);
    CHECK(a.io.redirection_entry(24) == 0);
}

TEST_CASE("edge-triggered pins deliver on rising edges while unmasked; a masked edge is lost") {
    IoApic a;
    a.route(1, 0x31);
    a.io.set_irq(1, true);
    a.io.set_irq(1, true);  // still high: no new edge
    CHECK(a.apic.messages == Messages{{0x31, false}});
    a.io.set_irq(1, false);
    a.io.set_irq(1, true);
    CHECK(a.apic.messages.size() == 2);
    a.io.set_irq(1, false);
    a.route(1, kMasked | 0x31);
    a.io.set_irq(1, true);
    a.route(1, 0x31);  // unmasking does not bring the edge back
    CHECK(a.apic.messages.size() == 2);
    // Lowest priority reaches APIC 0 like fixed.
    a.route(4, 0x100 | 0x34);
    a.io.set_irq(4, true);
    CHECK(a.apic.messages.back() == std::pair<std::uint8_t, bool>{0x34, false});
    CHECK(a.io.stats().delivered == 3);
}

TEST_CASE("level-triggered pins: remote IRR until the EOI, delivered again while still asserted") {
    IoApic a;
    a.route(10, kLevel | 0x41);
    a.io.set_irq(10, true);
    CHECK(a.apic.messages == Messages{{0x41, true}});
    CHECK(a.low(10) == (kLevel | kRemoteIrr | 0x41));
    a.io.set_irq(10, true);
    a.io.set_irq(10, false);
    a.io.set_irq(10, true);
    CHECK(a.apic.messages.size() == 1);  // waits for the EOI
    a.io.end_of_interrupt(0x42);         // another vector: nothing
    CHECK(a.low(10) == (kLevel | kRemoteIrr | 0x41));
    a.io.end_of_interrupt(0x41);         // still asserted: delivered again
    CHECK(a.apic.messages.size() == 2);
    CHECK(a.low(10) == (kLevel | kRemoteIrr | 0x41));
    a.io.set_irq(10, false);
    a.io.end_of_interrupt(0x41);
    CHECK(a.apic.messages.size() == 2);
    CHECK(a.low(10) == (kLevel | 0x41));
    // Asserted while masked: delivered when unmasked.
    a.route(10, kMasked | kLevel | 0x41);
    a.io.set_irq(10, true);
    CHECK(a.apic.messages.size() == 2);
    a.route(10, kLevel | 0x41);
    CHECK(a.apic.messages.size() == 3);
}

TEST_CASE("setting an entry to edge-triggered clears its remote IRR (Linux's EOI for version 0x11)") {
    IoApic a;
    a.route(9, kLevel | 0x51);
    a.io.set_irq(9, true);
    a.io.set_irq(9, false);
    CHECK((a.low(9) & kRemoteIrr) != 0);
    // __eoi_ioapic_pin: mask and set edge, then back to level.
    a.route(9, kMasked | 0x51);
    CHECK(a.low(9) == (kMasked | 0x51));
    a.route(9, kLevel | 0x51);
    CHECK(a.low(9) == (kLevel | 0x51));
    a.io.set_irq(9, true);
    CHECK(a.apic.messages.size() == 2);
    // Rewriting a level entry (mask toggled) keeps the remote IRR.
    a.route(9, kMasked | kLevel | 0x51);
    CHECK(a.low(9) == (kMasked | kLevel | kRemoteIrr | 0x51));
}

TEST_CASE("a level interrupt the APIC refuses leaves no remote IRR") {
    IoApic a;
    a.apic.accepting = false;
    a.route(5, kLevel | 0x45);
    a.io.set_irq(5, true);
    CHECK(a.low(5) == (kLevel | 0x45));
    CHECK(a.io.stats().refused_by_apic == 1);
    a.apic.accepting = true;
    a.route(5, kLevel | 0x45);  // rewriting the entry delivers the still-asserted pin
    CHECK(a.low(5) == (kLevel | kRemoteIrr | 0x45));
}

TEST_CASE("destinations other than APIC 0 and delivery modes other than fixed are dropped, each reported once") {
    IoApic a;
    struct Route {
        std::uint32_t low, high;
        bool delivered;
    };
    const Route routes[] = {
        {0x30, 0x00000000, true},             // physical 0
        {0x30, 0xff000000, true},             // physical broadcast
        {0x30, 0x01000000, false},            // physical 1
        {kLogical | 0x30, 0x01000000, true},  // logical, APIC 0's bit
        {kLogical | 0x30, 0x03000000, true},
        {kLogical | 0x30, 0x02000000, false},
        {kLogical | 0x30, 0x00000000, false},
        {0x200 | 0x30, 0, false},  // SMI
        {0x400 | 0x30, 0, false},  // NMI
        {0x500 | 0x30, 0, false},  // INIT
        {0x700 | 0x30, 0, false},  // ExtINT
    };
    for (const Route& r : routes) {
        CAPTURE(r.low);
        CAPTURE(r.high);
        std::size_t before = a.apic.messages.size();
        a.route(3, r.low, r.high);
        a.io.set_irq(3, true);
        a.io.set_irq(3, false);
        CHECK(a.apic.messages.size() == before + (r.delivered ? 1 : 0));
    }
    CHECK(a.io.stats().unreachable_destination == 3);
    CHECK(a.io.stats().unsupported_delivery == 4);
    CHECK(a.log.str() ==
          "vm: ioapic: an interrupt for a destination without APIC 0 (entry 0x100000000000030) was dropped\n"
          "vm: ioapic: an interrupt with a delivery mode tandem does not model (entry 0x230) was dropped\n");
}

TEST_CASE("a pin that does not exist is a tandem bug: counted and reported, nothing else") {
    IoApic a;
    auto before = a.save();
    a.io.set_irq(24, true);
    a.io.set_irq(1000, true);
    CHECK(a.save() == before);
    CHECK(a.io.stats().bad_pins == 2);
    CHECK(a.log.str() == "vm: ioapic: a device drove pin 0x18, which does not exist (a tandem bug)\n");
}

TEST_CASE("with the local APIC: a level interrupt, its acknowledge and EOI, and the redelivery") {
    test::FakeClock clock;
    test::StringWriter log;
    tandem::LocalApicModel lapic(clock, log);
    IoApicModel io(lapic, log);
    lapic.set_eoi_listener(&io);
    REQUIRE(status_message(lapic.write_msr(0x80f, 0x1ff)) == "");
    io.mmio_write(0, 4, 0x10 + 2 * 11);
    io.mmio_write(0x10, 4, kLevel | 0x61);
    io.mmio_write(0, 4, 0x10 + 2 * 4);
    io.mmio_write(0x10, 4, 0x34);
    io.set_irq(11, true);
    io.set_irq(4, true);
    auto remote_irr = [&] {
        io.mmio_write(0, 4, 0x10 + 2 * 11);
        return (io.mmio_read(0x10, 4) & kRemoteIrr) != 0;
    };
    CHECK(remote_irr());
    CHECK(*lapic.acknowledge() == 0x61);
    CHECK_FALSE(lapic.acknowledge());  // 0x34 waits below the vector in service
    // The EOI reaches the IOAPIC; the pin is still asserted, so the interrupt comes again.
    REQUIRE(status_message(lapic.write_msr(0x80b, 0)) == "");
    CHECK(remote_irr());
    CHECK(*lapic.acknowledge() == 0x61);
    io.set_irq(11, false);  // the device is served
    REQUIRE(status_message(lapic.write_msr(0x80b, 0)) == "");
    CHECK_FALSE(remote_irr());
    CHECK(*lapic.acknowledge() == 0x34);
    REQUIRE(status_message(lapic.write_msr(0x80b, 0)) == "");
    CHECK_FALSE(lapic.pending_vector());
    CHECK(lapic.stats().eoi_broadcasts == 2);
    CHECK(io.stats().delivered == 3);
    // A software-disabled APIC takes nothing: no remote IRR is left behind.
    REQUIRE(status_message(lapic.write_msr(0x80f, 0xff)) == "");
    io.set_irq(11, true);
    CHECK_FALSE(remote_irr());
    CHECK(io.stats().refused_by_apic == 1);
    CHECK(log.str().empty());
}

TEST_CASE("device state: a restored IOAPIC continues with the same entries, pin levels and remote IRRs") {
    IoApic a;
    CHECK(a.io.state_id() == tandem::kDeviceIdIoApic0);
    CHECK(a.io.state_version() == 1);
    CHECK(std::string(a.io.state_name()) == "ioapic0");
    a.set(0x00, 0x05000000);
    a.route(2, 0x30);
    a.route(8, 0x38, 0xff000000);
    a.route(10, kLevel | 0x41);
    a.route(11, kMasked | kLevel | 0x42);
    a.io.set_irq(10, true);
    a.io.set_irq(11, true);
    a.io.set_irq(2, true);
    a.io.mmio_write(0, 4, 0x15);
    auto saved = a.save();
    CHECK(saved.size() <= 1024);
    auto registers = a.registers();
    for (int round = 0; round < 3; ++round) {
        CAPTURE(round);
        IoApic b;
        b.route(10, 0x99);
        b.io.set_irq(5, true);
        REQUIRE(status_message(b.io.restore_state(1, saved)) == "");
        CHECK(b.save() == saved);
        CHECK(b.registers() == registers);
        CHECK(b.apic.messages.empty());  // restoring delivers nothing
        // Pin 2 is high already: no edge until it drops; pin 10 is waiting for its EOI; pin 11 is
        // asserted behind its mask.
        b.io.set_irq(2, true);
        b.io.end_of_interrupt(0x41);
        b.route(11, kLevel | 0x42);
        CHECK(b.apic.messages == Messages{{0x41, true}, {0x42, true}});
    }
}

TEST_CASE("device state: malformed IOAPIC states are refused and change nothing") {
    IoApic a;
    a.route(10, kLevel | 0x41);
    a.io.set_irq(10, true);
    auto good = a.save();
    IoApic target;
    target.route(3, 0x33);
    test::check_malformed_states_refused(target.io, good, 1);
    auto refused = [&](std::size_t offset, std::uint8_t byte, const char* message) {
        CAPTURE(offset);
        auto bad = good;
        bad[offset] = byte;
        IoApic t;
        auto before = t.save();
        CHECK(status_message(t.io.restore_state(1, bad)) == message);
        CHECK(t.save() == before);
    };
    // Layout: ioregsel 0, id 1, pin levels 2, entries 6 + 8 * pin.
    refused(1, 0x10, "ioapic0: bad id in state");
    refused(5, 0x01, "ioapic0: pin levels beyond pin 23 in state");
    refused(6 + 8 * 3 + 1, 0x10, "ioapic0: bad redirection entry in state");      // delivery status
    refused(6 + 8 * 3 + 2, 0x02, "ioapic0: bad redirection entry in state");      // bit 17
    refused(6 + 8 * 3 + 6, 0x01, "ioapic0: bad redirection entry in state");      // bit 48
    refused(6 + 8 * 3 + 1, 0x40, "ioapic0: bad redirection entry in state");      // remote IRR on an edge entry
    refused(6 + 8 * 10 + 1, 0x40, "ioapic0: bad redirection entry in state");     // ... level bit gone
}

}  // TEST_SUITE
