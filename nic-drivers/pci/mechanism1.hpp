// Configuration mechanism #1 (PCI Local Bus Specification 3.0 §3.2.2.3.2): write the function's
// address to CONFIG_ADDRESS (port 0xCF8, a dword), then access CONFIG_DATA (port 0xCFC-0xCFF) at
// the byte lane of the register. Portable: the ports come from a policy, which the arch layer
// fills with in/out instructions and host tests with a fake decoder:
//
//   struct Ports {
//       std::uint8_t in8(std::uint16_t port);   std::uint16_t in16(std::uint16_t port);
//       std::uint32_t in32(std::uint16_t port);
//       void out8(std::uint16_t port, std::uint8_t v);  void out16(std::uint16_t port, std::uint16_t v);
//       void out32(std::uint16_t port, std::uint32_t v);
//   };
//
// The address/data pair is not atomic: the caller serialises all configuration accesses (one
// CPU, interrupts off while enumerating and probing, as tandem's boot path runs).
#pragma once

#include <cstdint>

#include "nic-drivers/pci/config_space.hpp"

namespace tandem::pci {

inline constexpr std::uint16_t kConfigAddressPort = 0xcf8;
inline constexpr std::uint16_t kConfigDataPort = 0xcfc;

// CONFIG_ADDRESS: enable (bit 31), bus (23:16), device (15:11), function (10:8), dword (7:2).
constexpr std::uint32_t mechanism1_address(Address at, std::uint16_t offset) {
    return 0x8000'0000u | static_cast<std::uint32_t>(at.bus) << 16 |
           static_cast<std::uint32_t>(at.device & 0x1f) << 11 | static_cast<std::uint32_t>(at.function & 0x7) << 8 |
           (offset & 0xfcu);
}
static_assert(mechanism1_address({0, 3, 0}, 0x10) == 0x8000'1810u);
static_assert(mechanism1_address({0xff, 31, 7}, 0xff) == 0x80ff'fffcu);

template <class Ports>
class Mechanism1ConfigSpace final : public ConfigSpace {
public:
    explicit Mechanism1ConfigSpace(Ports& ports) : ports_(ports) {}

    std::uint16_t limit() const override { return 256; }

    std::uint32_t read(Address at, std::uint16_t offset, unsigned width) override {
        ports_.out32(kConfigAddressPort, mechanism1_address(at, offset));
        auto port = static_cast<std::uint16_t>(kConfigDataPort + (offset & 3u));
        if (width == 1) return ports_.in8(port);
        if (width == 2) return ports_.in16(port);
        return ports_.in32(port);
    }

    void write(Address at, std::uint16_t offset, unsigned width, std::uint32_t value) override {
        ports_.out32(kConfigAddressPort, mechanism1_address(at, offset));
        auto port = static_cast<std::uint16_t>(kConfigDataPort + (offset & 3u));
        if (width == 1) {
            ports_.out8(port, static_cast<std::uint8_t>(value));
        } else if (width == 2) {
            ports_.out16(port, static_cast<std::uint16_t>(value));
        } else {
            ports_.out32(port, value);
        }
    }

private:
    Ports& ports_;
};

}  // namespace tandem::pci
