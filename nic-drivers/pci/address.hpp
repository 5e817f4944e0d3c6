// A PCI function's place in configuration space: bus (0-255), device (0-31), function (0-7)
// (PCI Local Bus Specification 3.0, §3.2.2.3.1). Printed as lspci does: "00:03.0".
#pragma once

#include <cstdint>

#include "hypervisor/console/writer.hpp"

namespace tandem::pci {

inline constexpr unsigned kBuses = 256;
inline constexpr unsigned kDevicesPerBus = 32;
inline constexpr unsigned kFunctionsPerDevice = 8;

struct Address {
    std::uint8_t bus = 0;
    std::uint8_t device = 0;    // 0-31
    std::uint8_t function = 0;  // 0-7

    constexpr bool valid() const { return device < kDevicesPerBus && function < kFunctionsPerDevice; }
    // Orders addresses as lspci lists them (bus, then device, then function).
    constexpr std::uint32_t key() const {
        return static_cast<std::uint32_t>(bus) << 8 | static_cast<std::uint32_t>(device) << 3 | function;
    }
    friend constexpr bool operator==(const Address&, const Address&) = default;
};

// print() support, found by argument-dependent lookup: "{}" with an Address gives "bb:dd.f".
void put(Writer& w, const Address& a);

}  // namespace tandem::pci
