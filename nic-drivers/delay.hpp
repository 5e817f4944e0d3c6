// Busy-waiting for devices that need time (a reset, an EEPROM read). The arch layer implements
// it on the calibrated TSC; host tests advance a simulated clock, so no test ever sleeps.
#pragma once

#include <cstdint>

namespace tandem::nic {

class Delay {
public:
    virtual void microseconds(std::uint32_t us) = 0;

protected:
    ~Delay() = default;
};

}  // namespace tandem::nic
