// Shared by the device-restore fuzzer and its seed writer: one of each interrupt and timer device
// model (local APIC, IOAPIC, PIC, PIT, CMOS RTC, ACPI PM timer), built the same way on both sides, over fakes
// that append what the models do to a trace. Input layout:
//   byte 0     the model (byte % kDeviceModels); bit 7 set: restore under version byte >> 3
//              instead of the model's own
//   bytes 1..  the state handed to restore_state
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "hypervisor/devices/acpi_pm_timer.hpp"
#include "hypervisor/devices/cmos_rtc_model.hpp"
#include "hypervisor/devices/ioapic_model.hpp"
#include "hypervisor/devices/local_apic_model.hpp"
#include "hypervisor/devices/pic8259_model.hpp"
#include "hypervisor/devices/pit8254_model.hpp"

namespace fuzz {

inline constexpr std::uint64_t kDeviceTscHz = 2'000'000'000;
inline constexpr std::uint64_t kDeviceTscPerApicTick = 4;
inline constexpr std::int64_t kDeviceWallClock = 1'700'000'000;
inline constexpr unsigned kDeviceModels = 6;

using Trace = std::vector<std::uint64_t>;

class TraceClock final : public tandem::GuestClock {
public:
    std::uint64_t guest_tsc() const override { return tsc; }
    std::uint64_t tsc = 0;
};

class TraceLines final : public tandem::IrqLines {
public:
    explicit TraceLines(Trace& trace) : trace_(trace) {}
    void set_irq(unsigned pin, bool asserted) override { trace_.push_back(0x1000 + pin * 2 + (asserted ? 1 : 0)); }

private:
    Trace& trace_;
};

class TraceApic final : public tandem::ApicInterruptSink {
public:
    explicit TraceApic(Trace& trace) : trace_(trace) {}
    bool accept(std::uint8_t vector, bool level) override {
        trace_.push_back(0x2000 + vector * 2u + (level ? 1 : 0));
        return vector != 0x99;  // one vector the APIC refuses
    }

private:
    Trace& trace_;
};

class NullWriter final : public tandem::Writer {
public:
    void write(std::string_view text) override { bytes += text.size(); }
    std::size_t bytes = 0;
};

struct DeviceRig {
    Trace trace;
    TraceClock clock;
    TraceLines lines{trace};
    TraceApic apic_sink{trace};
    NullWriter log;
    tandem::LocalApicModel lapic{clock, log, tandem::LocalApicConfig{kDeviceTscPerApicTick, 39, true}};
    tandem::IoApicModel ioapic{apic_sink, log};
    tandem::Pic8259Model pic{log};
    tandem::Pit8254Model pit{clock, lines, kDeviceTscHz};
    tandem::CmosRtcModel rtc{clock, lines, tandem::CmosRtcConfig{kDeviceTscHz, kDeviceWallClock, 0}};
    tandem::AcpiPmTimer pm_timer{clock, kDeviceTscHz};

    tandem::StatefulDevice& device(unsigned which) {
        switch (which % kDeviceModels) {
            case 0: return lapic;
            case 1: return ioapic;
            case 2: return pic;
            case 3: return pit;
            case 4: return rtc;
            default: return pm_timer;
        }
    }
};

inline std::vector<std::uint8_t> save_device(const tandem::StatefulDevice& device) {
    std::vector<std::uint8_t> bytes(4096);
    tandem::ByteWriter w(bytes);
    device.save_state(w);
    if (w.overflow()) __builtin_trap();
    bytes.resize(w.size());
    return bytes;
}

}  // namespace fuzz
