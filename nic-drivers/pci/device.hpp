// What enumeration learns about one PCI function, and a fixed-capacity list of them (no heap:
// the list lives in the caller's static storage; about 12 KiB at the default capacity).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "nic-drivers/pci/address.hpp"
#include "nic-drivers/pci/config_registers.hpp"

namespace tandem::pci {

enum class BarKind : std::uint8_t { none, memory32, memory64, io };

// One decoded base address register. A 64-bit BAR occupies two slots: the lower slot holds the
// whole BAR, the upper slot is kind none with upper_half set.
struct Bar {
    BarKind kind = BarKind::none;
    bool prefetchable = false;
    bool upper_half = false;
    std::uint64_t base = 0;  // bus address as programmed by firmware (flag bits removed)
    std::uint64_t size = 0;  // from the all-ones probe; 0 when the BAR is not implemented

    constexpr bool is_memory() const { return kind == BarKind::memory32 || kind == BarKind::memory64; }
    constexpr bool present() const { return kind != BarKind::none && size != 0; }
};

struct Device {
    Address address;
    std::uint16_t vendor = 0;
    std::uint16_t device = 0;
    std::uint8_t class_code = 0;
    std::uint8_t subclass = 0;
    std::uint8_t prog_if = 0;
    std::uint8_t revision = 0;
    std::uint8_t header_type = 0;  // layout (bits 6:0), multi-function flag removed
    bool multifunction = false;
    std::uint8_t interrupt_line = 0xff;  // as firmware left it; 0xff = unknown / not connected
    std::uint8_t interrupt_pin = 0;      // 0 = none, 1-4 = INTA#-INTD#
    std::uint16_t subsystem_vendor = 0;
    std::uint16_t subsystem = 0;
    // Type 1 only: the bus range behind the bridge.
    std::uint8_t secondary_bus = 0;
    std::uint8_t subordinate_bus = 0;
    Bar bars[kBarsGeneral]{};
    std::uint8_t bar_count = 0;  // 6 for type 0, 2 for type 1, 0 otherwise

    constexpr bool is_bridge() const { return header_type == static_cast<std::uint8_t>(HeaderType::pci_bridge); }
    constexpr std::span<const Bar> base_registers() const { return {bars, bar_count}; }
};

class DeviceList {
public:
    static constexpr std::size_t kCapacity = 64;

    void clear() {
        count_ = 0;
        dropped_ = 0;
    }
    // Appends; when full the device is not stored but counted in dropped().
    bool add(const Device& d) {
        if (count_ == kCapacity) {
            ++dropped_;
            return false;
        }
        devices_[count_++] = d;
        return true;
    }
    std::size_t size() const { return count_; }
    std::size_t dropped() const { return dropped_; }
    std::span<const Device> devices() const { return {devices_, count_}; }
    std::span<Device> devices() { return {devices_, count_}; }

    const Device* find(Address a) const {
        for (const Device& d : devices()) {
            if (d.address == a) return &d;
        }
        return nullptr;
    }
    // The `index`-th device (in address order) with this vendor:device, or nullptr.
    const Device* find(std::uint16_t vendor, std::uint16_t device, std::size_t index = 0) const {
        for (const Device& d : devices()) {
            if (d.vendor != vendor || d.device != device) continue;
            if (index == 0) return &d;
            --index;
        }
        return nullptr;
    }

private:
    Device devices_[kCapacity]{};
    std::size_t count_ = 0;
    std::size_t dropped_ = 0;
};

}  // namespace tandem::pci
