// Access to PCI configuration space, the one seam between enumeration/drivers and the way the
// platform reaches it: configuration mechanism #1 (ports 0xCF8/0xCFC, 256 bytes per function,
// PCI Local Bus Specification 3.0 §3.2.2.3.2) or ECAM (memory-mapped, 4 KiB per function, PCI
// Express Base Specification §7.2.2). Host tests implement it over a fake.
//
// Implementations provide read()/write() of 1, 2 or 4 bytes. Callers use the read8..write32
// wrappers, which guarantee what implementations may rely on: the function address is valid,
// the offset is naturally aligned for the width and lies below limit(). A wrapper refuses any
// other request itself (reads give all ones, as an absent function does; writes are dropped).
// 8- and 16-bit writes are real narrow writes, never read-modify-write of the dword: the status
// register (offset 0x06) is write-one-to-clear and sits in the same dword as the command register.
#pragma once

#include <cstdint>

#include "nic-drivers/pci/address.hpp"

namespace tandem::pci {

class ConfigSpace {
public:
    // Bytes of configuration space per function: 256 (mechanism #1) or 4096 (ECAM).
    virtual std::uint16_t limit() const = 0;
    // width is 1, 2 or 4; the value is in the low `width` bytes. Absent functions read all ones.
    virtual std::uint32_t read(Address at, std::uint16_t offset, unsigned width) = 0;
    virtual void write(Address at, std::uint16_t offset, unsigned width, std::uint32_t value) = 0;

    std::uint8_t read8(Address at, std::uint16_t offset) {
        return static_cast<std::uint8_t>(checked(at, offset, 1) ? read(at, offset, 1) : 0xffu);
    }
    std::uint16_t read16(Address at, std::uint16_t offset) {
        return static_cast<std::uint16_t>(checked(at, offset, 2) ? read(at, offset, 2) : 0xffffu);
    }
    std::uint32_t read32(Address at, std::uint16_t offset) {
        return checked(at, offset, 4) ? read(at, offset, 4) : 0xffff'ffffu;
    }
    void write8(Address at, std::uint16_t offset, std::uint8_t value) {
        if (checked(at, offset, 1)) write(at, offset, 1, value);
    }
    void write16(Address at, std::uint16_t offset, std::uint16_t value) {
        if (checked(at, offset, 2)) write(at, offset, 2, value);
    }
    void write32(Address at, std::uint16_t offset, std::uint32_t value) {
        if (checked(at, offset, 4)) write(at, offset, 4, value);
    }

protected:
    ~ConfigSpace() = default;

private:
    bool checked(Address at, std::uint16_t offset, unsigned width) const {
        return at.valid() && offset % width == 0 && offset + width <= limit();
    }
};

}  // namespace tandem::pci
