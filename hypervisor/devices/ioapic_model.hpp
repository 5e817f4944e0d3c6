// The guest's IOAPIC (Intel 82093AA data sheet) at 0xfec00000: IOREGSEL at offset 0x00, IOWIN
// at 0x10, 24 redirection entries, ID, version 0x11 (max redirection entry 23) and arbitration
// registers. Pins are driven through IrqLines (interrupt_line.hpp); interrupts go to the single
// local APIC as fixed-interrupt messages.
//
// Edge-triggered pins deliver on a rising edge while unmasked (an edge on a masked pin is lost,
// as the data sheet says). Level-triggered pins deliver while asserted and unmasked, set remote
// IRR, and deliver again after the local APIC's EOI broadcast clears it if the pin is still
// asserted. Setting an entry to edge-triggered clears its remote IRR: Linux relies on that to
// end a stuck level interrupt on IOAPICs without an EOI register (version < 0x20).
//
// Delivery: fixed and lowest-priority modes to APIC 0 (physical destination 0 or 0xff, or a
// logical destination including bit 0). Other delivery modes and destinations are counted and
// dropped, each reported once. Registers are 32 bits wide: other access sizes, and offsets other
// than IOREGSEL and IOWIN, are refused (reads return 0, writes are dropped), counted and
// reported once.
#pragma once

#include <cstdint>

#include "hypervisor/console/writer.hpp"
#include "hypervisor/devices/apic_bus.hpp"
#include "hypervisor/devices/device_state.hpp"
#include "hypervisor/devices/interrupt_line.hpp"
#include "hypervisor/devices/mmio_bus.hpp"

namespace tandem {

struct IoApicStats {
    std::uint64_t delivered = 0;                // messages the local APIC took
    std::uint64_t refused_by_apic = 0;          // ... and did not (APIC disabled, illegal vector)
    std::uint64_t unsupported_delivery = 0;     // SMI, NMI, INIT, ExtINT entries: dropped
    std::uint64_t unreachable_destination = 0;  // no APIC 0 in the destination: dropped
    std::uint64_t refused_accesses = 0;         // bad MMIO size or offset
    std::uint64_t bad_pins = 0;                 // set_irq for a pin above 23 (a tandem bug)
};

class IoApicModel final : public MmioDevice, public IrqLines, public EoiListener, public StatefulDevice {
public:
    static constexpr std::uint64_t kBase = 0xfec00000;
    static constexpr std::uint64_t kSize = 0x1000;
    static constexpr unsigned kPins = 24;
    static constexpr std::uint32_t kVersion = 0x00170011;  // max redirection entry 23, version 0x11
    static constexpr std::uint64_t kEntryMask = 1ull << 16, kEntryLevel = 1ull << 15, kEntryRemoteIrr = 1ull << 14;

    IoApicModel(ApicInterruptSink& apic, Writer& log);

    std::uint64_t mmio_read(std::uint64_t offset, unsigned size) override;
    void mmio_write(std::uint64_t offset, unsigned size, std::uint64_t value) override;
    void set_irq(unsigned pin, bool asserted) override;
    void end_of_interrupt(std::uint8_t vector) override;

    std::uint64_t redirection_entry(unsigned pin) const { return pin < kPins ? entries_[pin] : 0; }
    const IoApicStats& stats() const { return stats_; }

    std::uint16_t state_id() const override { return kDeviceIdIoApic0; }
    std::uint16_t state_version() const override { return 1; }
    const char* state_name() const override { return "ioapic0"; }
    void save_state(ByteWriter& out) const override;
    Status restore_state(std::uint16_t version, std::span<const std::uint8_t> in) override;

private:
    enum Report : unsigned {
        kReportAccess = 1, kReportDeliveryMode = 2, kReportDestination = 4, kReportPin = 8, kReportRegister = 16,
    };
    std::uint32_t read_register(std::uint8_t index);
    void write_register(std::uint8_t index, std::uint32_t value);
    void deliver(unsigned pin);
    // Delivers a level-triggered pin if it is asserted, unmasked and not waiting for an EOI.
    void service_level(unsigned pin);
    void report_once(Report reason, const char* text, std::uint64_t value);

    ApicInterruptSink& apic_;
    Writer& log_;
    std::uint8_t ioregsel_ = 0;
    std::uint8_t id_ = 0;
    std::uint64_t entries_[kPins]{};
    std::uint32_t asserted_ = 0;  // pin levels, bit per pin
    IoApicStats stats_{};
    unsigned reported_ = 0;
};

}  // namespace tandem
