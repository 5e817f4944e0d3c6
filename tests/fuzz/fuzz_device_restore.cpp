// libFuzzer: the interrupt and timer device models' restore_state (local APIC, IOAPIC, PIC, PIT,
// CMOS RTC) on arbitrary bytes (layout in fuzz_device_rig.hpp). A refused state must leave the
// model exactly as it was. An accepted one must save back to the same bytes, and two models
// restored from it must then behave identically, without tripping ASan/UBSan, while every
// register is read, time runs to the ends of the 64-bit guest TSC, interrupts are acknowledged
// and ended, and the guest reprograms the device.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "tests/fuzz/fuzz_device_rig.hpp"

namespace {

using fuzz::DeviceRig;

constexpr std::uint64_t kTimes[] = {
    0, 1, 999, 1'000'000, 2'000'000'000, 123'456'789'012, 1ull << 40, 1ull << 52, 1ull << 62, ~0ull - 1'000'000, ~0ull};

void note(DeviceRig& r, std::uint64_t v) { r.trace.push_back(v); }
void note(DeviceRig& r, const std::optional<std::uint64_t>& v) { r.trace.push_back(v ? *v : 0xdeadbeefcafe); }

void exercise_lapic(DeviceRig& r) {
    auto& a = r.lapic;
    auto read_all = [&] {
        for (std::uint32_t msr = 0x800; msr <= 0x8ff; ++msr) {
            auto v = a.read_msr(msr);
            note(r, v ? *v : 0xbad0000 + msr);
        }
        for (std::uint32_t msr : {0x1bu, 0x6e0u}) {
            auto v = a.read_msr(msr);
            note(r, v ? *v : 0xbad);
        }
    };
    auto drain = [&] {
        for (int i = 0; i < 300; ++i) {
            auto v = a.acknowledge();
            if (!v) break;
            note(r, *v);
            if (!a.write_msr(0x80b, 0)) note(r, 0xe01);
        }
    };
    for (std::uint64_t t : kTimes) {
        r.clock.tsc = t;
        a.advance(t);
        auto d = a.next_deadline();
        // After advance(t), every expiry up to t has fired: the next one is later.
        if (d && *d <= t && t != ~0ull) __builtin_trap();
        note(r, d);
        if (auto p = a.pending_vector()) note(r, *p);
        note(r, a.processor_priority());
        read_all();
        drain();
    }
    // The guest reprograms it: enable, periodic timer, deadline mode, IPIs, leave x2APIC mode.
    r.clock.tsc = 5000;
    const std::pair<std::uint32_t, std::uint64_t> writes[] = {
        {0x80f, 0x1ff},
        {0x808, 0x20},
        {0x83e, 0x3},
        {0x832, (1u << 17) | 0xe0},
        {0x838, 12345},
        {0x83f, 0x31},
        {0x830, (1ull << 18) | 0x45},
        {0x837, 0xfe},
        {0x830, 0x7},
        {0x832, (2u << 17) | 0xe1},
        {0x6e0, 9000},
        {0x828, 0},
        {0x1b, 0xfee00000},
        {0x1b, 0xfee00800},
        {0x1b, 0xfee00c00},
    };
    for (auto [msr, value] : writes) {
        note(r, a.write_msr(msr, value) ? 1 : 0);
        a.advance(r.clock.tsc += 7777);
        note(r, a.next_deadline());
        drain();
    }
    read_all();
}

void exercise_ioapic(DeviceRig& r) {
    auto& io = r.ioapic;
    auto read_all = [&] {
        for (unsigned i = 0; i < 0x42; ++i) {
            io.mmio_write(0, 4, i);
            note(r, io.mmio_read(0x10, 4));
        }
        note(r, io.mmio_read(0, 4));
    };
    read_all();
    for (unsigned pin = 0; pin < 26; ++pin) {
        io.set_irq(pin, true);
        io.set_irq(pin, false);
        io.set_irq(pin, true);
    }
    for (unsigned v = 0; v < 256; ++v) io.end_of_interrupt(static_cast<std::uint8_t>(v));
    read_all();
    for (unsigned pin = 0; pin < 24; ++pin) {
        io.mmio_write(0, 4, 0x10 + 2 * pin);
        io.mmio_write(0x10, 4, (pin & 1 ? 0x8000u : 0u) | (0x20 + pin));
        io.set_irq(pin, pin % 3 != 0);
    }
    for (unsigned v = 0x20; v < 0x40; ++v) io.end_of_interrupt(static_cast<std::uint8_t>(v));
    io.mmio_write(8, 2, 0);
    read_all();
}

void exercise_pic(DeviceRig& r) {
    auto& p = r.pic;
    static constexpr std::uint16_t kPorts[] = {0x20, 0x21, 0xa0, 0xa1, 0x4d0, 0x4d1};
    for (std::uint16_t port : kPorts) note(r, p.read(port, 1));
    for (std::uint16_t port : {kPorts[1], kPorts[3]}) {
        p.write(port, 1, 0x5a);
        p.write(port, 1, 0x00);
    }
    for (unsigned b : {0x11u, 0x30u, 0x04u, 0x01u, 0x0bu, 0x0cu, 0x20u, 0xfbu}) p.write(0x20, 1, b);
    note(r, p.read(0x20, 4));
    note(r, p.read(0xa0, 2));
    note(r, p.masks());
}

void exercise_pit(DeviceRig& r) {
    auto& p = r.pit;
    auto read_all = [&] {
        static constexpr std::uint16_t kPorts[] = {0x40, 0x41, 0x42, 0x40, 0x41, 0x42, 0x43};
        for (std::uint16_t port : kPorts) note(r, p.read(port, 1));
        note(r, p.read(0x61, 1));
    };
    for (std::uint64_t t : kTimes) {
        r.clock.tsc = t;
        p.advance(t);
        note(r, p.next_deadline());
        read_all();
        p.write(0x43, 1, 0xce);  // read-back: count and status of every counter
        read_all();
        p.write(0x43, 1, 0x00);
        read_all();
    }
    r.clock.tsc = 1'000'000;
    const std::pair<std::uint16_t, std::uint8_t> writes[] = {
        {0x43, 0x34}, {0x40, 0x01}, {0x40, 0x00}, {0x61, 0x01}, {0x43, 0xb6}, {0x42, 0x02}, {0x42, 0x00}, {0x43, 0x72},
        {0x41, 0x01}, {0x61, 0x00}, {0x61, 0x01}, {0x43, 0x3a}, {0x40, 0x05}, {0x40, 0x00}, {0x43, 0x13}, {0x40, 0x99},
    };
    for (auto [port, value] : writes) {
        p.write(port, 1, value);
        r.clock.tsc += 12345;
        p.advance(r.clock.tsc);
        note(r, p.next_deadline());
        read_all();
    }
}

void exercise_rtc(DeviceRig& r) {
    auto& c = r.rtc;
    auto read_all = [&] {
        for (unsigned i = 0; i < 0x80; ++i) {
            c.write(0x70, 1, i);
            note(r, c.read(0x71, 1));
        }
    };
    for (std::uint64_t t : kTimes) {
        r.clock.tsc = t;
        c.advance(t);
        auto d = c.next_deadline();
        note(r, d);
        note(r, static_cast<std::uint64_t>(c.time_at(t)));
        read_all();
    }
    r.clock.tsc = 1000;
    const std::pair<std::uint8_t, std::uint8_t> writes[] = {
        {0x0b, 0x72}, {0x0a, 0x23}, {0x01, 0xc0}, {0x03, 0xc0}, {0x05, 0xc0}, {0x0b, 0x86}, {0x00, 0x59}, {0x02, 0x99},
        {0x04, 0x92}, {0x07, 0x31}, {0x08, 0x13}, {0x09, 0xff}, {0x0b, 0x76}, {0x0a, 0x70}, {0x0a, 0x2f},
    };
    for (auto [index, value] : writes) {
        c.write(0x70, 1, index);
        c.write(0x71, 1, value);
        r.clock.tsc += 300'000'000;
        c.advance(r.clock.tsc);
        note(r, c.next_deadline());
        read_all();
    }
}

void exercise_pm_timer(DeviceRig& r) {
    for (std::uint64_t tsc : {0ull, 1ull, 1'999'999'999ull, 2'000'000'000ull, 1ull << 40, ~0ull}) {
        r.clock.tsc = tsc;
        for (unsigned size : {1u, 2u, 4u}) note(r, r.pm_timer.read(tandem::AcpiPmTimer::kPort, size));
        note(r, r.pm_timer.read(tandem::AcpiPmTimer::kPort + 3, 1));
        r.pm_timer.write(tandem::AcpiPmTimer::kPort, 4, 0);
    }
}

void exercise(DeviceRig& r, unsigned which) {
    switch (which) {
        case 0: return exercise_lapic(r);
        case 1: return exercise_ioapic(r);
        case 2: return exercise_pic(r);
        case 3: return exercise_pit(r);
        case 4: return exercise_rtc(r);
        default: return exercise_pm_timer(r);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    unsigned which = data[0] % fuzz::kDeviceModels;
    std::span<const std::uint8_t> state(data + 1, size - 1);
    auto a = std::make_unique<DeviceRig>();
    tandem::StatefulDevice& device = a->device(which);
    std::uint16_t version = (data[0] & 0x80) ? static_cast<std::uint16_t>(data[0] >> 3) : device.state_version();
    auto before = fuzz::save_device(device);
    if (!device.restore_state(version, state)) {
        if (fuzz::save_device(device) != before) __builtin_trap();  // a refused state changes nothing
        return 0;
    }
    // Canonical: what was accepted saves back byte for byte.
    auto saved = fuzz::save_device(device);
    if (saved.size() != state.size() || !std::equal(saved.begin(), saved.end(), state.begin())) __builtin_trap();
    if (saved.size() > 1024) __builtin_trap();  // fits a checkpoint's device record
    auto b = std::make_unique<DeviceRig>();
    if (!b->device(which).restore_state(version, saved)) __builtin_trap();
    a->trace.clear();
    exercise(*a, which);
    exercise(*b, which);
    if (a->trace != b->trace) __builtin_trap();  // restored twice, the same device
    // Whatever the guest did, the state stays restorable.
    auto after = fuzz::save_device(device);
    auto c = std::make_unique<DeviceRig>();
    if (!c->device(which).restore_state(device.state_version(), after)) __builtin_trap();
    if (fuzz::save_device(c->device(which)) != after) __builtin_trap();
    return 0;
}
