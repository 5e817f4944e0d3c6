// The guest's CMOS real-time clock (Motorola MC146818A) at ports 0x70 (index; bit 7, the NMI
// mask, is ignored) and 0x71 (data): time and date registers, alarm, registers A-D and CMOS RAM
// bytes 0x0e-0x7f (no checksum kept; byte 0x32 holds the century, as the ACPI FADT's RTC century
// index usually says).
//
// Time: a wall-clock time the caller gives (seconds since 1970, UTC) at a guest TSC, plus guest
// time since then, so the guest's clock runs with its TSC. BCD or binary and 12 or 24-hour
// display as register B selects (the registers are computed from the time, so switching the
// format shows the same time re-encoded, and a written value out of range carries into the next
// field as mktime does). Writing the time works with or without the SET bit; SET stops the
// clock until cleared. Daylight saving (DSE) is not applied; day-of-week writes are ignored (it
// is derived from the date). Only the 32.768 kHz time base (DV = 010) runs; other DV values hold
// the divider in reset.
//
// Update-in-progress: UIP reads 1 for the 244 us before and the 1984 us of each update cycle
// (MC146818A data sheet), which this model ends exactly at the second boundary where the time
// registers change, so "UIP clear" always means at least 244 us of stable registers, which is
// what Linux's mc146818_get_time() relies on.
//
// Interrupts: register C's flags (periodic, alarm, update-ended) are set as time passes whether
// or not enabled; IRQF, and IOAPIC pin 8, follow PF·PIE + AF·AIE + UF·UIE until the guest reads
// register C. next_deadline() reports a guest TSC only when an enabled interrupt is coming, so an
// RTC the guest does not ask for costs no timer exits.
#pragma once

#include <cstdint>
#include <optional>

#include "hypervisor/devices/device_state.hpp"
#include "hypervisor/devices/guest_clock.hpp"
#include "hypervisor/devices/interrupt_line.hpp"
#include "hypervisor/devices/port_io.hpp"

namespace tandem {

struct CmosRtcConfig {
    std::uint64_t tsc_hz = 1;        // the guest TSC's frequency (at least 1)
    std::int64_t unix_seconds = 0;   // the wall-clock time (UTC) ...
    std::uint64_t at_guest_tsc = 0;  // ... at this guest TSC
};

class CmosRtcModel final : public PortIoDevice, public StatefulDevice {
public:
    static constexpr std::uint16_t kBase = 0x70, kPorts = 2;
    static constexpr unsigned kIrqPin = 8;
    static constexpr std::uint8_t kRamFirst = 0x0e, kCenturyIndex = 0x32;
    static constexpr std::size_t kRamSize = 0x80 - kRamFirst;
    // The supported range of the clock: 1900-01-01 to the end of 9999.
    static constexpr std::int64_t kMinSeconds = -2208988800, kMaxSeconds = 253402300799;

    CmosRtcModel(GuestClock& clock, IrqLines& irq, const CmosRtcConfig& config);

    std::uint32_t read(std::uint16_t port, unsigned size) override;
    void write(std::uint16_t port, unsigned size, std::uint32_t value) override;
    // Sets register C's flags for what happened up to guest_tsc and drives IRQ 8.
    void advance(std::uint64_t guest_tsc);
    // The guest TSC of the next enabled interrupt, if one is coming and IRQ 8 is not already up.
    std::optional<std::uint64_t> next_deadline() const;
    // The time the clock shows at guest_tsc, in seconds since 1970.
    std::int64_t time_at(std::uint64_t guest_tsc) const;

    std::uint16_t state_id() const override { return kDeviceIdRtc; }
    std::uint16_t state_version() const override { return 1; }
    const char* state_name() const override { return "rtc"; }
    void save_state(ByteWriter& out) const override;
    Status restore_state(std::uint16_t version, std::span<const std::uint8_t> in) override;

private:
    std::uint8_t read_register(std::uint8_t index, std::uint64_t now);
    void write_register(std::uint8_t index, std::uint8_t value, std::uint64_t now);
    void write_time_field(std::uint8_t index, std::uint8_t value, std::uint64_t now);
    void sync(std::uint64_t now);
    void update_line();
    bool running() const;
    bool divider_running() const { return ((a_ >> 4) & 7) == 2; }
    std::uint64_t seconds_elapsed(std::uint64_t tsc) const;
    std::uint64_t divider_ticks(std::uint64_t tsc) const;  // 32.768 kHz ticks since the divider started
    std::uint64_t periodic_ticks() const;                  // 0 if no periodic rate is selected
    bool update_in_progress(std::uint64_t now) const;
    std::uint8_t encode(int value) const;
    int decode(std::uint8_t value) const;
    std::uint8_t encode_hour(int hour) const;
    int decode_hour(std::uint8_t value) const;
    // The first time at or after `from` that matches the alarm registers, within a day.
    std::optional<std::int64_t> next_alarm(std::int64_t from) const;

    GuestClock& clock_;
    IrqLines& irq_;
    std::uint64_t tsc_hz_;
    std::uint8_t index_ = 0;
    std::uint8_t a_ = 0x26;  // 32.768 kHz time base, 1024 Hz periodic rate selected
    std::uint8_t b_ = 0x02;  // 24-hour, BCD, no interrupts
    std::uint8_t c_ = 0;
    std::uint8_t alarm_[3]{};  // seconds, minutes, hours as written
    std::uint8_t ram_[kRamSize]{};
    std::int64_t base_seconds_;  // the time at origin_tsc_ (while stopped: the time shown)
    std::uint64_t origin_tsc_;   // second boundaries fall at origin_tsc_ + k * tsc_hz
    std::uint64_t divider_tsc_;  // where the 32.768 kHz divider chain started (periodic phase)
    std::uint64_t synced_tsc_;
    bool line_ = false;
};

}  // namespace tandem
