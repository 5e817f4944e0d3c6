// Writes the device-restore fuzzer's seed corpus: genuine saved states of each interrupt and
// timer model (fuzz_device_rig.hpp), fresh and after a guest programmed it, with the model byte
// in front.   fuzz_device_seeds OUTPUT_DIR
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_device_rig.hpp"

namespace {

void write(const std::filesystem::path& path, unsigned which, const tandem::StatefulDevice& device) {
    auto state = fuzz::save_device(device);
    std::ofstream out(path, std::ios::binary);
    out.put(static_cast<char>(which));
    out.write(reinterpret_cast<const char*>(state.data()), static_cast<std::streamsize>(state.size()));
}

bool program_lapic(fuzz::DeviceRig& r, bool deadline) {
    auto& a = r.lapic;
    bool ok =
        a.write_msr(0x80f, 0x1ff) && a.write_msr(0x837, 0xfe) && a.write_msr(0x808, 0x10) && a.write_msr(0x83e, 0x9);
    if (deadline) {
        ok = ok && a.write_msr(0x832, (2u << 17) | 0xec) && a.write_msr(0x6e0, 5'000'000);
    } else {
        r.clock.tsc = 1000;
        ok = ok && a.write_msr(0x832, (1u << 17) | 0xec) && a.write_msr(0x838, 100000);
    }
    a.accept(0x41, true);
    a.accept(0x80, false);
    (void)a.acknowledge();
    ok = ok && a.write_msr(0x83f, 0x22) && a.write_msr(0x83f, 3);
    return ok;
}

void program_ioapic(fuzz::DeviceRig& r) {
    auto& io = r.ioapic;
    io.mmio_write(0, 4, 0);
    io.mmio_write(0x10, 4, 0x02000000);
    for (unsigned pin = 0; pin < 24; pin += 3) {
        io.mmio_write(0, 4, 0x10 + 2 * pin);
        io.mmio_write(0x10, 4, (pin & 1 ? 0x8000u : 0u) | (0x30 + pin));
        io.set_irq(pin, true);
    }
}

void program_pit(fuzz::DeviceRig& r) {
    auto& p = r.pit;
    r.clock.tsc = 777'777;
    for (auto [port, value] : std::vector<std::pair<std::uint16_t, std::uint8_t>>{{0x43, 0x34},
                                                                                  {0x40, 0xa9},
                                                                                  {0x40, 0x04},
                                                                                  {0x61, 0x01},
                                                                                  {0x43, 0xb0},
                                                                                  {0x42, 0xff},
                                                                                  {0x42, 0xff},
                                                                                  {0x43, 0x54},
                                                                                  {0x41, 0x12},
                                                                                  {0x43, 0x80}}) {
        p.write(port, 1, value);
    }
    r.clock.tsc = 9'999'999;
    p.advance(r.clock.tsc);
    (void)p.read(0x42, 1);
}

void program_rtc(fuzz::DeviceRig& r) {
    auto& c = r.rtc;
    for (auto [index, value] : std::vector<std::pair<std::uint8_t, std::uint8_t>>{
             {0x0a, 0x2a}, {0x01, 0x30}, {0x03, 0xc0}, {0x05, 0xc0}, {0x0b, 0x62}, {0x40, 0x99}}) {
        c.write(0x70, 1, index);
        c.write(0x71, 1, value);
    }
    r.clock.tsc = 3'333'333'333;
    c.advance(r.clock.tsc);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: fuzz_device_seeds OUTPUT_DIR\n";
        return 2;
    }
    std::filesystem::path dir = argv[1];
    std::filesystem::create_directories(dir);
    {
        auto fresh = std::make_unique<fuzz::DeviceRig>();
        const char* names[] = {"lapic_reset", "ioapic_reset", "pic_reset", "pit_reset", "rtc_reset", "pm_timer_reset"};
        for (unsigned i = 0; i < fuzz::kDeviceModels; ++i) write(dir / names[i], i, fresh->device(i));
    }
    bool ok = true;
    for (bool deadline : {false, true}) {
        auto r = std::make_unique<fuzz::DeviceRig>();
        ok = ok && program_lapic(*r, deadline);
        write(dir / (deadline ? "lapic_deadline" : "lapic_periodic"), 0, r->lapic);
    }
    auto r = std::make_unique<fuzz::DeviceRig>();
    program_ioapic(*r);
    write(dir / "ioapic_programmed", 1, r->ioapic);
    for (unsigned b : {0x11u, 0x30u, 0x04u, 0x01u, 0xfbu})
        r->pic.write(static_cast<std::uint16_t>(b == 0x11 ? 0x20 : 0x21), 1, b);
    r->pic.write(0xa0, 1, 0x11);
    r->pic.write(0xa1, 1, 0x38);
    write(dir / "pic_initialising", 2, r->pic);
    program_pit(*r);
    write(dir / "pit_programmed", 3, r->pit);
    program_rtc(*r);
    write(dir / "rtc_programmed", 4, r->rtc);
    if (!ok) {
        std::cerr << "fuzz_device_seeds: programming the local APIC failed\n";
        return 1;
    }
    return 0;
}
