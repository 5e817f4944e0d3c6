// The guest's local APIC (hypervisor/devices/local_apic_model.hpp), its state in checkpoints:
// saved and restored mid-run, malformed states refused; last, the stable ids and state sizes of
// all the interrupt and timer models together.
#include <doctest/doctest.h>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "device_fakes.hpp"
#include "helpers.hpp"
#include "hypervisor/devices/cmos_rtc_model.hpp"
#include "hypervisor/devices/ioapic_model.hpp"
#include "hypervisor/devices/local_apic_model.hpp"
#include "hypervisor/devices/pic8259_model.hpp"
#include "hypervisor/devices/pit8254_model.hpp"
#include "hypervisor/devices/virtio/virtio_net.hpp"
#include "local_apic_fixture.hpp"
#include "replication/checkpoint/backup_image.hpp"
#include "replication/checkpoint/record_format.hpp"

using tandem::LocalApicConfig;
using tandem::LocalApicModel;
using test::status_message;
using namespace lapic_test;

TEST_SUITE("local_apic") {

TEST_CASE("device state: identity, and a restored APIC continues exactly where the saved one was") {
    Apic a(LocalApicConfig{2, 39, true});
    CHECK(a.apic.state_id() == tandem::kDeviceIdLocalApic0);
    CHECK(a.apic.state_version() == 2);
    CHECK(std::string(a.apic.state_name()) == "lapic0");
    a.enable_timer(kPeriodic, 0xe0);
    a.wr(kLvtError, kMasked | 0xfe);
    a.wr(kLvtLint0, 0x700);
    a.wr(kTpr, 0x10);
    a.wr(kDivide, 0x1);
    a.clock.tsc = 12345;
    a.wr(kInitial, 3000);  // period 24000 cycles
    a.apic.accept(0x33, true);
    a.apic.accept(0x90, false);
    CHECK(*a.apic.acknowledge() == 0x90);
    a.wr(kSelfIpi, 0x21);
    a.wr(kIcr, (1ull << 18) | 0x55);
    a.wr(kSelfIpi, 2);  // an ESR error, pending
    a.clock.tsc = 20000;
    auto saved = a.save();
    CHECK(saved.size() <= 1024);
    auto registers = a.registers();
    // Acknowledges and ends everything pending, in order.
    auto drain = [](Apic& x) {
        std::vector<int> order;
        while (auto v = x.apic.acknowledge()) {
            order.push_back(*v);
            x.wr(kEoi, 0);
        }
        x.wr(kEoi, 0);  // and the 0x90 that was in service before
        while (auto v = x.apic.acknowledge()) {
            order.push_back(*v);
            x.wr(kEoi, 0);
        }
        return order;
    };
    for (int round = 0; round < 3; ++round) {
        CAPTURE(round);
        Apic b(LocalApicConfig{2, 39, true});
        b.clock.tsc = 20000;
        b.wr(kSvr, kEnabled);  // something different first
        b.wr(kSelfIpi, 0x99);
        REQUIRE(status_message(b.apic.restore_state(2, saved)) == "");
        CHECK(b.save() == saved);
        CHECK(b.registers() == registers);
        CHECK(b.apic.next_deadline() == a.apic.next_deadline());
        CHECK(*b.apic.next_deadline() == 12345 + 24000);
        CHECK(b.apic.pending_vector() == a.apic.pending_vector());
        // Both fire at the same TSC and then behave alike.
        for (Apic* x : {&a, &b}) {
            x->apic.advance(12345 + 23999);
            CHECK((x->rd(kIrr0 + 7) & 1) == 0);
            x->apic.advance(12345 + 24000);
            CHECK(x->rd(kIrr0 + 7) == 1);
        }
        CHECK(b.registers() == a.registers());
        auto order = drain(b);
        CHECK(order == drain(a));
        CHECK(order == std::vector<int>{0xe0, 0x55, 0x33, 0x21});
        CHECK(b.eoi.vectors == std::vector<std::uint8_t>{0x33});
        CHECK(b.registers() == a.registers());
        // Put a back to the saved state for the next round: restore works on a used model too.
        REQUIRE(status_message(a.apic.restore_state(2, saved)) == "");
        a.eoi.vectors.clear();
    }
    // The error that was pending is latched by the next ESR write, as in the saved APIC.
    Apic c(LocalApicConfig{2, 39, true});
    REQUIRE(status_message(c.apic.restore_state(2, saved)) == "");
    c.wr(kEsr, 0);
    CHECK(c.rd(kEsr) == 0x20);
}

TEST_CASE("device state: malformed APIC states are refused and change nothing") {
    Apic a;
    a.enable_timer(kOneShot);
    a.wr(kInitial, 500);
    auto good = a.save();
    Apic target;
    target.wr(kSvr, kEnabled);
    target.wr(kSelfIpi, 0x44);
    test::check_malformed_states_refused(target.apic, good, 2);
    auto refused = [&](std::size_t offset, std::vector<std::uint8_t> bytes, const char* message) {
        CAPTURE(offset);
        auto bad = good;
        for (std::size_t i = 0; i < bytes.size(); ++i) bad[offset + i] = bytes[i];
        Apic t;
        auto before = t.save();
        CHECK(status_message(t.apic.restore_state(2, bad)) == message);
        CHECK(t.save() == before);
    };
    // Layout: tsc_per_tick 0, apic_base 8, tpr 16, svr 17, esr 21, esr_pending 25, icr 29,
    // lvt 37 (7 x 4: cmci, timer, ...), irr 65, isr 97, tmr 129, timer 161.
    refused(0, {0, 0, 0, 0, 0, 0, 0, 0}, "lapic0: bad APIC timer clock (tsc_per_apic_tick) in state");
    refused(0, {0, 0, 0, 0x02}, "lapic0: bad APIC timer clock (tsc_per_apic_tick) in state");  // 2^25: above 2^24
    refused(8, {0x00, 0x05}, "lapic0: bad IA32_APIC_BASE in state");  // EXTD without EN
    refused(9, {0x02}, "lapic0: bad IA32_APIC_BASE in state");         // bit 9 reserved
    refused(8, {0x00, 0x0c}, "lapic0: bad IA32_APIC_BASE in state");   // BSP clear
    refused(18, {0x10}, "lapic0: reserved register bits set in state");
    refused(21, {0x01}, "lapic0: reserved register bits set in state");
    refused(30, {0x10}, "lapic0: reserved register bits set in state");  // ICR delivery status
    refused(37 + 4 * 6, {0x00, 0x08}, "lapic0: bad LVT entry in state");  // error LVT bit 11
    refused(37 + 4 * 1 + 2, {0x06}, "lapic0: LVT timer mode and timer state disagree");  // timer mode 3
    refused(37 + 4 * 1 + 2, {0x04}, "lapic0: LVT timer mode and timer state disagree");
    refused(17, {0xff, 0x00}, "lapic0: bad LVT entry in state");        // software-disabled, timer unmasked
    refused(65, {0x01}, "lapic0: vectors 0-15 set in state");
    refused(161, {3}, "lapic0: bad timer mode in state");
    refused(162, {4}, "lapic0: bad divide configuration in state");
    refused(167, {2}, "lapic0: bad timer flag in state");
    refused(176, {0xf5, 0x01}, "lapic0: inconsistent timer count in state");  // anchor count 501 > initial 500
    refused(180, {1}, "lapic0: timer state mixes TSC-deadline and counting modes");
    Apic stopped;
    auto idle = stopped.save();
    idle[168] = 1;  // a stopped timer with an anchor
    CHECK(status_message(stopped.apic.restore_state(2, idle)) == "lapic0: stopped timer with a count in state");
}

// Every model of the guest's world next to each other: distinct stable ids, states that fit a
// checkpoint's device record, and room in the backup for all of them.

TEST_CASE("device state: the interrupt and timer models have distinct ids and fit a checkpoint record") {
    test::FakeClock clock;
    test::StringWriter log;
    test::RecordingIrqLines lines;
    LocalApicModel lapic(clock, log);
    tandem::IoApicModel ioapic(lapic, log);
    tandem::Pic8259Model pic(log);
    tandem::Pit8254Model pit(clock, lines, 2'000'000'000);
    tandem::CmosRtcModel rtc(clock, lines, tandem::CmosRtcConfig{2'000'000'000, 1'700'000'000, 0});
    const tandem::StatefulDevice* devices[] = {&lapic, &ioapic, &pic, &pit, &rtc};
    std::set<std::uint16_t> ids = {tandem::kDeviceIdUart0, tandem::virtio::VirtioMmioNet::kDeviceIdVirtioNet0};
    std::set<std::string> names = {"uart0", "virtio-net0"};
    for (const tandem::StatefulDevice* d : devices) {
        CAPTURE(d->state_name());
        CHECK(ids.insert(d->state_id()).second);
        CHECK(names.insert(d->state_name()).second);
        CHECK(test::saved_state(*d).size() + 4 <= tandem::checkpoint::kDeviceStateMaxPayload);
    }
    CHECK(ids.size() <= tandem::checkpoint::BackupImage::kMaxDevices);
}

}  // TEST_SUITE
