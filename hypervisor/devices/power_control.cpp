#include "hypervisor/devices/power_control.hpp"

namespace tandem {

std::uint32_t PowerControl::read(std::uint16_t port, unsigned) {
    // Sleep status: WAK_STS never set (the guest does not wake from S5); the keyboard
    // controller's status: input buffer empty, so a reboot loop goes on to write its command.
    (void)port;
    return 0;
}

void PowerControl::write(std::uint16_t port, unsigned, std::uint32_t value) {
    auto byte = static_cast<std::uint8_t>(value);
    if (request_ != Request::none) return;
    if (port == ports_.sleep_control) {
        if (!(byte & kSleepEnable)) return;
        std::uint8_t type = (byte >> 2) & 7;
        if (type == ports_.s5_sleep_type) {
            request_ = Request::power_off;
        } else {
            unsupported_sleep_type_ = type;  // only S5 is in the DSDT: a guest asking for another is confused
            request_ = Request::power_off;
        }
    } else if (port == ports_.reset) {
        if (byte == ports_.reset_value) request_ = Request::reset;
    } else if (port == kKeyboardCommand) {
        if (byte == kKeyboardPulseReset) request_ = Request::reset;
    }
}

const char* PowerControl::describe() const {
    switch (request_) {
        case Request::none: return "running";
        case Request::power_off:
            return unsupported_sleep_type_ == 0xff ? "the guest powered itself off (ACPI S5)"
                                                   : "the guest asked for a sleep state other than S5 (treated as power-off)";
        case Request::reset: return "the guest asked for a reboot (tandem runs it once: reboot ends it)";
    }
    return "?";
}

}  // namespace tandem
