// The ACPI power-management timer (ACPI 6.5 §4.8.3.3): a free-running 32-bit counter at
// 3.579545 MHz, read-only, at one System I/O port (the FADT's X_PM_TMR_BLK, with TMR_VAL_EXT
// set for 32 bits). Linux registers it as the "acpi_pm" clocksource and, above all, uses it as
// the clocksource watchdog that judges the TSC (kernel/time/clocksource.c): without a second
// clock the watchdog falls back to jiffies, and a guest whose timer interrupts arrive late (as
// under any hypervisor) gets "Marking TSC unstable due to clocksource watchdog" (issue 18).
//
// Time: like every timer model here it counts on the guest TSC (guest_clock.hpp), so the two
// clocks the watchdog compares agree exactly: value = guest_tsc * 3579545 / tsc_hz, mod 2^32
// (wrapping every 20 minutes, not the 4.7 s of 24 bits, so a long pause cannot fool the
// watchdog). The TSC frequency travels with the guest's state, as the PIT's does.
#pragma once

#include <cstdint>

#include "hypervisor/devices/device_state.hpp"
#include "hypervisor/devices/guest_clock.hpp"
#include "hypervisor/devices/port_io.hpp"

namespace tandem {

class AcpiPmTimer final : public PortIoDevice, public StatefulDevice {
public:
    // Outside the PC's fixed ports and tandem's power ports; the FADT names it.
    static constexpr std::uint16_t kPort = 0x608;
    static constexpr std::uint16_t kPorts = 4;
    static constexpr std::uint64_t kFrequencyHz = 3579545;

    // tsc_hz: the guest TSC's frequency (0 is taken as 1).
    AcpiPmTimer(GuestClock& clock, std::uint64_t tsc_hz);

    // The counter at guest_tsc.
    std::uint32_t value_at(std::uint64_t guest_tsc) const;
    // Reads return the counter's bytes at their offset (a 4-byte read at the port is the whole
    // value); writes are ignored (the register is read-only).
    std::uint32_t read(std::uint16_t port, unsigned size) override;
    void write(std::uint16_t, unsigned, std::uint32_t) override {}

    std::uint64_t tsc_hz() const { return tsc_hz_; }
    std::uint16_t state_id() const override { return kDeviceIdAcpiPmTimer; }
    std::uint16_t state_version() const override { return 1; }
    const char* state_name() const override { return "pm-timer"; }
    void save_state(ByteWriter& out) const override;
    Status restore_state(std::uint16_t version, std::span<const std::uint8_t> in) override;

private:
    GuestClock& clock_;
    std::uint64_t tsc_hz_;
};

}  // namespace tandem
