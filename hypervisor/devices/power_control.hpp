// How the guest ends itself: the ACPI sleep control register with SLP_EN and the sleep type of
// \_S5 (power-off; ACPI 6.5 §4.8.3.7, §7.4.2), the ACPI reset register (§4.8.3.6), and the
// keyboard controller's reset pulse (command 0xfe to port 0x64, the reboot method older kernels
// fall back to). The request is kept for the VM loop, which ends the guest with a message:
// tandem runs one guest and does not restart it.
#pragma once

#include <cstdint>

#include "hypervisor/devices/port_io.hpp"

namespace tandem {

struct PowerPorts {
    std::uint16_t sleep_control = 0x600;
    std::uint16_t sleep_status = 0x601;
    std::uint16_t reset = 0x602;
    std::uint8_t reset_value = 0x01;
    std::uint8_t s5_sleep_type = 5;
};

class PowerControl final : public PortIoDevice {
public:
    enum class Request : std::uint8_t { none, power_off, reset };
    static constexpr std::uint16_t kKeyboardCommand = 0x64;
    static constexpr std::uint8_t kKeyboardPulseReset = 0xfe;
    static constexpr std::uint8_t kSleepEnable = 1u << 5;

    explicit PowerControl(const PowerPorts& ports) : ports_(ports) {}
    const PowerPorts& ports() const { return ports_; }

    std::uint32_t read(std::uint16_t port, unsigned size) override;
    void write(std::uint16_t port, unsigned size, std::uint32_t value) override;

    Request request() const { return request_; }
    // What the guest asked for, for the console.
    const char* describe() const;

private:
    PowerPorts ports_;
    Request request_ = Request::none;
    std::uint8_t unsupported_sleep_type_ = 0xff;
};

}  // namespace tandem
