// The configuration header: register offsets and bits (PCI Local Bus Specification 3.0 §6.1-§6.2.5
// for the type 0 header, PCI-to-PCI Bridge Architecture Specification 1.2 §3.2 for type 1).
#pragma once

#include <cstdint>

namespace tandem::pci {

namespace reg {
// Common to every header type (§6.1, figure 6-1).
inline constexpr std::uint16_t kVendorId = 0x00;
inline constexpr std::uint16_t kDeviceId = 0x02;
inline constexpr std::uint16_t kCommand = 0x04;
inline constexpr std::uint16_t kStatus = 0x06;
inline constexpr std::uint16_t kRevision = 0x08;
inline constexpr std::uint16_t kProgIf = 0x09;
inline constexpr std::uint16_t kSubclass = 0x0a;
inline constexpr std::uint16_t kClass = 0x0b;
inline constexpr std::uint16_t kHeaderType = 0x0e;
inline constexpr std::uint16_t kBar0 = 0x10;  // BAR n at kBar0 + 4 * n
inline constexpr std::uint16_t kInterruptLine = 0x3c;
inline constexpr std::uint16_t kInterruptPin = 0x3d;
// Type 0 only.
inline constexpr std::uint16_t kSubsystemVendorId = 0x2c;
inline constexpr std::uint16_t kSubsystemId = 0x2e;
// Type 1 (PCI-to-PCI bridge) only (bridge spec §3.2.5.2-§3.2.5.4).
inline constexpr std::uint16_t kPrimaryBus = 0x18;
inline constexpr std::uint16_t kSecondaryBus = 0x19;
inline constexpr std::uint16_t kSubordinateBus = 0x1a;
}  // namespace reg

// Command register bits (§6.2.2).
namespace command {
inline constexpr std::uint16_t kIoSpace = 1u << 0;
inline constexpr std::uint16_t kMemorySpace = 1u << 1;
inline constexpr std::uint16_t kBusMaster = 1u << 2;
inline constexpr std::uint16_t kInterruptDisable = 1u << 10;
}  // namespace command

// Header type register (§6.2.1): layout in bits 6:0, multi-function device in bit 7.
inline constexpr std::uint8_t kHeaderLayoutMask = 0x7f;
inline constexpr std::uint8_t kHeaderMultiFunction = 0x80;
enum class HeaderType : std::uint8_t { general = 0, pci_bridge = 1, cardbus_bridge = 2 };

inline constexpr std::uint16_t kAbsentVendor = 0xffff;  // what a read of a missing function gives
inline constexpr unsigned kBarsGeneral = 6;             // type 0
inline constexpr unsigned kBarsBridge = 2;              // type 1

// Base address register low bits (§6.2.5.1).
namespace bar_bits {
inline constexpr std::uint32_t kIo = 1u << 0;
inline constexpr std::uint32_t kMemTypeMask = 3u << 1;
inline constexpr std::uint32_t kMemType64 = 2u << 1;
inline constexpr std::uint32_t kPrefetchable = 1u << 3;
inline constexpr std::uint32_t kIoFlags = 0x3;
inline constexpr std::uint32_t kMemFlags = 0xf;
}  // namespace bar_bits

// Class codes used for names and for bridges (PCI Code and ID Assignment Specification 1.x).
inline constexpr std::uint8_t kClassNetwork = 0x02;
inline constexpr std::uint8_t kClassBridge = 0x06;
inline constexpr std::uint8_t kSubclassEthernet = 0x00;
inline constexpr std::uint8_t kSubclassHostBridge = 0x00;
inline constexpr std::uint8_t kSubclassPciBridge = 0x04;

}  // namespace tandem::pci
