// Device memory as the guest sees it: devices claim guest-physical ranges outside guest RAM
// (which EPT leaves unmapped, so every access exits and comes here). Unlike port I/O, an access
// nobody claims is not quietly absorbed: the guest is stopped with a report, as it touched
// memory that does not exist.
#pragma once

#include <cstddef>
#include <cstdint>

#include "hypervisor/util/result.hpp"

namespace tandem {

class MmioDevice {
public:
    // offset from the start of the device's range; size 1, 2, 4 or 8.
    virtual std::uint64_t mmio_read(std::uint64_t offset, unsigned size) = 0;
    virtual void mmio_write(std::uint64_t offset, unsigned size, std::uint64_t value) = 0;

protected:
    ~MmioDevice() = default;
};

class MmioBus {
public:
    static constexpr std::size_t kMaxRanges = 8;

    Status attach(std::uint64_t base, std::uint64_t size, MmioDevice& device);
    // The device claiming [gpa, gpa + size), or nullptr; offset receives the offset into it.
    MmioDevice* find(std::uint64_t gpa, unsigned size, std::uint64_t& offset) const;

private:
    struct Range {
        std::uint64_t base, size;
        MmioDevice* device;
    };
    Range ranges_[kMaxRanges]{};
    std::size_t count_ = 0;
};

}  // namespace tandem
