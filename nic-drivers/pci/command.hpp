// Turning a function on for a polled driver (PCI Local Bus Specification 3.0 §6.2.2): memory
// and/or I/O decode so its registers answer, bus mastering so it can DMA, and INTx disabled
// because tandem's drivers poll. Drivers call this themselves when they attach.
#pragma once

#include <cstdint>

#include "nic-drivers/pci/config_registers.hpp"
#include "nic-drivers/pci/config_space.hpp"

namespace tandem::pci {

struct Enable {
    bool memory = true;
    bool io = false;
    bool bus_master = true;
    bool disable_intx = true;
};

// Sets the requested bits (leaving the others as they were) and returns the command register
// as read back afterwards, so a caller can check the device took them.
inline std::uint16_t enable_function(ConfigSpace& config, Address at, const Enable& what) {
    std::uint16_t cmd = config.read16(at, reg::kCommand);
    std::uint16_t set = static_cast<std::uint16_t>(
        (what.memory ? command::kMemorySpace : 0) | (what.io ? command::kIoSpace : 0) |
        (what.bus_master ? command::kBusMaster : 0) | (what.disable_intx ? command::kInterruptDisable : 0));
    config.write16(at, reg::kCommand, static_cast<std::uint16_t>(cmd | set));
    return config.read16(at, reg::kCommand);
}

}  // namespace tandem::pci
