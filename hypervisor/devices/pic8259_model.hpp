// The legacy 8259A interrupt controller pair (master at 0x20, slave at 0xa0) with the edge/level
// control registers at 0x4d0/0x4d1. tandem's guest takes its interrupts through the IOAPIC
// (DESIGN §6: "legacy PIC present but masked"), so this model delivers nothing: it keeps what
// the initialisation (ICW1-ICW4) and operation command words (OCW1-OCW3) set, so that Linux can
// probe the PIC (it writes a mask and reads it back) and mask it. IRR, ISR and the poll byte
// always read as "nothing pending".
//
// A guest that unmasks an IRQ (other than the master's cascade input, IR2) expects the PIC to
// deliver it through ExtINT, which tandem does not do: that is counted and reported once.
// Linux does it briefly at boot when it sets up the PIT interrupt before switching to the
// IOAPIC, and loses nothing by it.
#pragma once

#include <cstdint>

#include "hypervisor/console/writer.hpp"
#include "hypervisor/devices/device_state.hpp"
#include "hypervisor/devices/port_io.hpp"

namespace tandem {

class Pic8259Model final : public PortIoDevice, public StatefulDevice {
public:
    static constexpr std::uint16_t kMasterBase = 0x20, kSlaveBase = 0xa0, kElcrBase = 0x4d0;
    static constexpr std::uint16_t kPortsPerRange = 2;  // attach each of the three bases with this count

    explicit Pic8259Model(Writer& log);

    std::uint32_t read(std::uint16_t port, unsigned size) override;
    void write(std::uint16_t port, unsigned size, std::uint32_t value) override;

    // Interrupt mask registers: bit n masks IRQ n (slave: IRQ 8 + n).
    std::uint16_t masks() const { return static_cast<std::uint16_t>(chips_[0].imr | (chips_[1].imr << 8)); }
    std::uint8_t vector_base(unsigned chip) const { return chips_[chip & 1].icw2; }
    bool initialising(unsigned chip) const { return chips_[chip & 1].init_step != 0; }
    std::uint64_t unmask_requests() const { return unmask_requests_; }

    std::uint16_t state_id() const override { return kDeviceIdPic; }
    std::uint16_t state_version() const override { return 1; }
    const char* state_name() const override { return "pic"; }
    void save_state(ByteWriter& out) const override;
    Status restore_state(std::uint16_t version, std::span<const std::uint8_t> in) override;

private:
    struct Chip {
        std::uint8_t imr = 0xff;
        std::uint8_t init_step = 0;  // 0: operating; 2, 3, 4: expecting ICW2, ICW3, ICW4
        std::uint8_t icw1 = 0, icw2 = 0, icw3 = 0, icw4 = 0;
        std::uint8_t flags = 0;  // kReadIsr, kSpecialMask, kPoll
        std::uint8_t elcr = 0;
    };
    std::uint8_t read_byte(std::uint16_t port);
    void write_byte(std::uint16_t port, std::uint8_t value);
    void write_command(unsigned chip, std::uint8_t value);
    void write_data(unsigned chip, std::uint8_t value);

    Writer& log_;
    Chip chips_[2];
    std::uint64_t unmask_requests_ = 0;
    bool reported_ = false;
};

}  // namespace tandem
