// The guest's 8254 PIT at ports 0x40-0x43, with the gate and output of counter 2 in port 0x61
// (NMI status and control register): enough for Linux, which calibrates the TSC with counter 2
// (gate on through 0x61 bit 0, mode 0, then polls OUT2 in 0x61 bit 5 or reads the count) and
// may use counter 0 as its early tick (mode 2, or mode 4 one-shot) on IRQ0 until the local APIC
// timer takes over. Counter logic: pit_counter.hpp.
//
// Time: the PIT's input clock runs at 1.193182 MHz (the rate Linux assumes) on the guest TSC,
// whose frequency the model is built with: tick = guest_tsc * 1193182 / tsc_hz. Counter 0's OUT
// drives IOAPIC pin 2 (ISA IRQ0 through the usual interrupt source override) through IrqLines;
// each rising edge is delivered as one, several edges between two advance() calls as one.
// next_deadline() gives the guest TSC of counter 0's next rising edge, for the VMX preemption
// timer. tandem's guest has no BIOS, so the counters start unprogrammed and silent.
#pragma once

#include <cstdint>
#include <optional>

#include "hypervisor/devices/device_state.hpp"
#include "hypervisor/devices/guest_clock.hpp"
#include "hypervisor/devices/interrupt_line.hpp"
#include "hypervisor/devices/pit_counter.hpp"
#include "hypervisor/devices/port_io.hpp"

namespace tandem {

class Pit8254Model final : public PortIoDevice, public StatefulDevice {
public:
    static constexpr std::uint16_t kBase = 0x40, kPorts = 4;  // counters 0-2, control word
    static constexpr std::uint16_t kPortB = 0x61;             // attach with count 1
    static constexpr std::uint64_t kFrequencyHz = 1193182;
    static constexpr unsigned kIrqPin = 2;

    // tsc_hz: the guest TSC's frequency (at least 1).
    Pit8254Model(GuestClock& clock, IrqLines& irq, std::uint64_t tsc_hz);

    std::uint32_t read(std::uint16_t port, unsigned size) override;
    void write(std::uint16_t port, unsigned size, std::uint32_t value) override;
    // Drives counter 0's output to the IOAPIC up to guest_tsc.
    void advance(std::uint64_t guest_tsc);
    // The guest TSC of counter 0's next rising edge (an interrupt), if one is coming.
    std::optional<std::uint64_t> next_deadline() const;

    const PitCounter& counter(unsigned i) const { return counters_[i % 3]; }
    std::uint64_t tick_at(std::uint64_t guest_tsc) const;
    std::uint64_t irq_edges() const { return irq_edges_; }

    std::uint16_t state_id() const override { return kDeviceIdPit; }
    std::uint16_t state_version() const override { return 1; }
    const char* state_name() const override { return "pit"; }
    void save_state(ByteWriter& out) const override;
    Status restore_state(std::uint16_t version, std::span<const std::uint8_t> in) override;

private:
    std::uint8_t read_byte(std::uint16_t port, std::uint64_t tick);
    void write_byte(std::uint16_t port, std::uint8_t value, std::uint64_t tick);
    // Accounts counter 0's output up to tick and drives the IRQ line to match.
    void sync(std::uint64_t tick);
    std::uint64_t now_tick() const;

    GuestClock& clock_;
    IrqLines& irq_;
    std::uint64_t tsc_hz_;
    PitCounter counters_[3] = {PitCounter(true), PitCounter(true), PitCounter(false)};
    std::uint8_t port_b_ = 0;  // 0x61 bits 0-3: gate 2, speaker data, parity and channel check enables
    // The level of OUT0 as last driven to IOAPIC pin 2. An unprogrammed counter's OUT is high (as
    // after a mode 3 control word), so programming mode 2 or 3 first raises no spurious edge.
    bool line_ = true;
    std::uint64_t synced_tick_ = 0;
    std::uint64_t irq_edges_ = 0;
};

}  // namespace tandem
