// The guest machine's device set and its one strict restore (hypervisor/vm/device_set.hpp), and
// the builder that assembles the machine every mode uses (hypervisor/vm/guest_machine.hpp).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "hypervisor/vm/device_set.hpp"
#include "hypervisor/vm/guest_machine.hpp"
#include "vmx_fake_host_memory.hpp"

using namespace tandem;

namespace {

class Model final : public StatefulDevice {
public:
    explicit Model(std::uint16_t id) : id_(id) {}
    std::uint16_t state_id() const override { return id_; }
    std::uint16_t state_version() const override { return 1; }
    const char* state_name() const override { return "model"; }
    void save_state(ByteWriter& out) const override { out.put<std::uint8_t>(value); }
    Status restore_state(std::uint16_t, std::span<const std::uint8_t> in) override {
        if (in.size() != 1) return Error::of("model: bad state size", in.size());
        value = in[0];
        ++restores;
        return success();
    }
    std::uint8_t value = 0;
    unsigned restores = 0;

private:
    std::uint16_t id_;
};

std::string message(const Status& s) { return s ? std::string() : std::string(s.error().message); }

}  // namespace

TEST_CASE("device set: models are listed once each, up to the limit") {
    DeviceSet set;
    Model a(1), b(2), dup(1);
    REQUIRE(set.add(a));
    REQUIRE(set.add(b));
    CHECK(message(set.add(dup)) == "devices: two models with the same checkpoint id (a tandem bug)");
    std::vector<Model> more;
    for (std::uint16_t id = 10; id < 20; ++id) more.emplace_back(id);
    std::size_t added = 2;
    for (Model& m : more) {
        Status s = set.add(m);
        if (added < DeviceSet::kMaxDevices) {
            CHECK(s);
            ++added;
        } else {
            CHECK(message(s) == "devices: too many models to checkpoint (a tandem bug)");
        }
    }
    CHECK(set.size() == DeviceSet::kMaxDevices);
}

TEST_CASE("device set: a restore must name exactly this machine's models, or nothing changes") {
    DeviceSet set;
    Model uart(1), net(2);
    REQUIRE(set.add(uart));
    REQUIRE(set.add(net));
    std::uint8_t seven = 7, eight = 8;
    SavedDeviceState both[] = {{2, 1, {&eight, 1}}, {1, 1, {&seven, 1}}};  // any order
    SavedDeviceState one[] = {{1, 1, {&seven, 1}}};
    SavedDeviceState unknown[] = {{1, 1, {&seven, 1}}, {9, 1, {&eight, 1}}};
    SavedDeviceState twice[] = {{1, 1, {&seven, 1}}, {1, 1, {&eight, 1}}};
    SavedDeviceState three[] = {{1, 1, {&seven, 1}}, {2, 1, {&eight, 1}}, {3, 1, {&eight, 1}}};

    CHECK(message(set.restore(one)) ==
          "devices: the saved state is of a different number of models than this machine has; saved");
    CHECK(message(set.restore(three)) ==
          "devices: the saved state is of a different number of models than this machine has; saved");
    CHECK(message(set.restore(unknown)) == "devices: the saved state holds a model this machine does not have; device id");
    CHECK(message(set.restore(twice)) == "devices: the saved state holds one model twice; device id");
    CHECK(uart.restores + net.restores == 0);  // every refusal before any model changed
    CHECK(set.check(both));
    CHECK(uart.restores == 0);  // check() changes nothing

    REQUIRE(set.restore(both));
    CHECK(uart.value == 7);
    CHECK(net.value == 8);
    // A model's own refusal is reported as it says it.
    SavedDeviceState bad[] = {{1, 1, {&seven, 1}}, {2, 1, {}}};
    CHECK(message(set.restore(bad)) == "model: bad state size");
}

namespace {

// The vCPU side of the builder, recorded.
class RecordingWiring final : public VcpuWiring {
public:
    class Clock final : public GuestClock {
    public:
        std::uint64_t guest_tsc() const override { return 0; }
    };
    GuestClock& guest_clock() override { return clock; }
    void set_interrupts(GuestInterruptSource* s) override { interrupts = s; }
    void set_mmio_bus(MmioBus* bus) override { mmio = bus; }
    Status add_tick_listener(TickListener& l) override {
        listeners.push_back(&l);
        return success();
    }
    void stop_guest(const char* reason) override { stopped = reason; }
    bool guest_running() const override { return stopped.empty(); }

    Clock clock;
    GuestInterruptSource* interrupts = nullptr;
    MmioBus* mmio = nullptr;
    std::vector<TickListener*> listeners;
    std::string stopped;
};

class NullOutput final : public virtio::NetBackend {
public:
    bool transmit(std::span<const std::uint8_t>) override { return true; }
};

struct StringWriter final : Writer {
    void write(std::string_view t) override { text.append(t); }
    std::string text;
};

}  // namespace

TEST_CASE("guest machine: one builder for every mode: the UART, the PC platform and the network card") {
    test::VectorHostMemory host(0x1000'0000, 2 << 20);
    GuestMemory ram(host);
    REQUIRE(ram.append(0x1000'0000, 2 << 20));
    NullOutput output;

    SUBCASE("a test guest: the UART alone") {
        StringWriter log;
        GuestMachine machine(log);
        RecordingWiring vcpu;
        REQUIRE(machine.attach_uart());
        REQUIRE(machine.build(MachineSpec{}, vcpu, ram, nullptr));
        CHECK(machine.devices().size() == 1);
        CHECK(machine.devices().find(kDeviceIdUart0) == &machine.uart());
        CHECK(machine.pc() == nullptr);
        CHECK(machine.net() == nullptr);
        CHECK(vcpu.interrupts == nullptr);
        CHECK(vcpu.listeners.empty());
    }
    SUBCASE("a Linux guest with a network card: eight models, wired to the vCPU") {
        StringWriter log;
        GuestMachine machine(log);
        RecordingWiring vcpu;
        REQUIRE(machine.attach_uart());
        MachineSpec spec;
        spec.pc_platform = true;
        spec.tsc_hz = 2'000'000'000;
        spec.network = true;
        spec.guest_mac = MacAddress{{0x52, 0x54, 0, 0x12, 0x34, 0x56}};
        spec.net_mmio_base = 0xd0000000;
        spec.net_gsi = 5;
        REQUIRE(machine.build(spec, vcpu, ram, &output));
        CHECK(machine.devices().size() == 8);
        for (std::uint16_t id : {kDeviceIdUart0, kDeviceIdLocalApic0, kDeviceIdIoApic0, kDeviceIdPic, kDeviceIdPit, kDeviceIdRtc,
                                 kDeviceIdAcpiPmTimer}) {
            CHECK(machine.devices().find(id) != nullptr);
        }
        CHECK(machine.devices().find(machine.net()->state_id()) == machine.net());
        CHECK(vcpu.interrupts == machine.pc());
        CHECK(vcpu.mmio != nullptr);
        CHECK(vcpu.listeners.size() == 1);  // the power watch
        CHECK(log.text.find("vm: PC devices: local APIC") != std::string::npos);
        CHECK(log.text.find("vm: virtio-net at 0xd0000000 with MAC 52:54:00:12:34:56 on the client NIC") != std::string::npos);
        // The power watch ends the guest when it powers itself off (ACPI S5 through the ports).
        machine.io().write(spec.power.sleep_control, 1, static_cast<std::uint32_t>(PowerControl::kSleepEnable | (spec.power.s5_sleep_type << 2)));
        vcpu.listeners[0]->on_tick();
        CHECK(vcpu.stopped == "the guest powered itself off (ACPI S5)");
    }
    SUBCASE("a network card needs somewhere to send") {
        StringWriter log;
        GuestMachine machine(log);
        RecordingWiring vcpu;
        MachineSpec spec;
        spec.network = true;
        CHECK(message(machine.build(spec, vcpu, ram, nullptr)) == "vm: a network card without an output (a tandem bug)");
    }
}
