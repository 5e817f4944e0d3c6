// Enhanced configuration access (ECAM, PCI Express Base Specification 4.0 §7.2.2): each function's
// 4 KiB of configuration space at base + (bus - start_bus) << 20 | device << 15 | function << 12.
// The caller takes base, segment and bus range from the ACPI MCFG table (PCI Firmware
// Specification 3.2 §4.1.2) and maps the region uncached. Buses outside the range read all ones.
//
// Portable: the memory comes from a policy (offsets relative to the mapped base, naturally aligned
// accesses of 1, 2 or 4 bytes):
//   struct Access {
//       std::uint32_t load(std::uint64_t offset, unsigned width);
//       void store(std::uint64_t offset, unsigned width, std::uint32_t value);
//   };
// VolatileEcamAccess below is the production policy over an uncached mapping.
#pragma once

#include <cstdint>

#include "nic-drivers/pci/config_space.hpp"

namespace tandem::pci {

constexpr std::uint64_t ecam_offset(std::uint8_t start_bus, Address at, std::uint16_t offset) {
    return static_cast<std::uint64_t>(at.bus - start_bus) << 20 | static_cast<std::uint64_t>(at.device & 0x1f) << 15 |
           static_cast<std::uint64_t>(at.function & 0x7) << 12 | (offset & 0xfffu);
}
static_assert(ecam_offset(0, {1, 2, 3}, 0x104) == 0x113104);

template <class Access>
class EcamConfigSpace final : public ConfigSpace {
public:
    // Buses start_bus..end_bus (inclusive) are mapped at the policy's offset 0.
    EcamConfigSpace(Access& access, std::uint8_t start_bus, std::uint8_t end_bus)
        : access_(access), start_(start_bus), end_(end_bus) {}

    std::uint16_t limit() const override { return 4096; }

    std::uint32_t read(Address at, std::uint16_t offset, unsigned width) override {
        if (!covers(at)) return width == 4 ? 0xffff'ffffu : (1u << (8 * width)) - 1;
        return access_.load(ecam_offset(start_, at, offset), width);
    }
    void write(Address at, std::uint16_t offset, unsigned width, std::uint32_t value) override {
        if (covers(at)) access_.store(ecam_offset(start_, at, offset), width, value);
    }

private:
    bool covers(Address at) const { return at.bus >= start_ && at.bus <= end_; }

    Access& access_;
    std::uint8_t start_;
    std::uint8_t end_;
};

// ECAM through a pointer to the uncached mapping of the MCFG region for buses start..end.
class VolatileEcamAccess {
public:
    explicit VolatileEcamAccess(volatile std::uint8_t* base) : base_(base) {}

    std::uint32_t load(std::uint64_t offset, unsigned width) {
        if (width == 1) return base_[offset];
        if (width == 2) return *reinterpret_cast<volatile std::uint16_t*>(base_ + offset);
        return *reinterpret_cast<volatile std::uint32_t*>(base_ + offset);
    }
    void store(std::uint64_t offset, unsigned width, std::uint32_t value) {
        if (width == 1) {
            base_[offset] = static_cast<std::uint8_t>(value);
        } else if (width == 2) {
            *reinterpret_cast<volatile std::uint16_t*>(base_ + offset) = static_cast<std::uint16_t>(value);
        } else {
            *reinterpret_cast<volatile std::uint32_t*>(base_ + offset) = value;
        }
    }

private:
    volatile std::uint8_t* base_;
};

}  // namespace tandem::pci
