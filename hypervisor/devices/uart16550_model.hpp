// The guest's 16550 UART at 0x3f8 (DESIGN §6). What the guest transmits goes to tandem's
// console a line at a time, prefixed "guest: ", so guest and hypervisor messages can share the
// serial line and still be told apart. The receive side is idle for now (no input to the guest).
// Registers follow the PC16550D data sheet; the model never blocks: the transmitter is always
// ready (LSR.THRE and TEMT set).
#pragma once

#include <cstddef>
#include <cstdint>

#include "hypervisor/console/writer.hpp"
#include "hypervisor/devices/device_state.hpp"
#include "hypervisor/devices/port_io.hpp"

namespace tandem {

class Uart16550Model final : public PortIoDevice, public StatefulDevice {
public:
    static constexpr std::uint16_t kBase = 0x3f8;
    static constexpr std::uint16_t kPorts = 8;
    static constexpr std::size_t kLineMax = 160;

    explicit Uart16550Model(Writer& console) : console_(console) {}

    std::uint32_t read(std::uint16_t port, unsigned size) override;
    void write(std::uint16_t port, unsigned size, std::uint32_t value) override;
    // Emits a partial line (at guest exit, so no output is lost).
    void flush();
    std::uint64_t bytes_transmitted() const { return transmitted_; }

    std::uint16_t state_id() const override { return kDeviceIdUart0; }
    std::uint16_t state_version() const override { return 2; }
    const char* state_name() const override { return "uart0"; }
    // Registers and the partly assembled output line (so no output is lost or repeated).
    void save_state(ByteWriter& out) const override;
    Status restore_state(std::uint16_t version, std::span<const std::uint8_t> in) override;

private:
    void transmit(std::uint8_t byte);
    void emit_line();

    Writer& console_;
    std::uint8_t ier_ = 0, lcr_ = 0, mcr_ = 0, scratch_ = 0, dll_ = 1, dlm_ = 0, fcr_ = 0;
    char line_[kLineMax]{};
    std::size_t line_length_ = 0;
    bool just_wrapped_ = false;
    std::uint64_t transmitted_ = 0;
};

}  // namespace tandem
