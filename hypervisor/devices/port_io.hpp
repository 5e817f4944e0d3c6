// Port I/O as the guest sees it: devices claim port ranges on a bus; an access to a port no
// device claims behaves like an absent ISA device (reads all ones, writes vanish) and is
// counted, and reported the first time per port, so nothing the guest does goes unnoticed.
#pragma once

#include <cstddef>
#include <cstdint>

#include "hypervisor/console/writer.hpp"
#include "hypervisor/util/result.hpp"

namespace tandem {

class PortIoDevice {
public:
    // size is 1, 2 or 4 bytes; port lies inside the range the device was attached with.
    virtual std::uint32_t read(std::uint16_t port, unsigned size) = 0;
    virtual void write(std::uint16_t port, unsigned size, std::uint32_t value) = 0;

protected:
    ~PortIoDevice() = default;
};

class PortIoBus {
public:
    static constexpr std::size_t kMaxRanges = 16;
    static constexpr std::size_t kMaxReportedPorts = 32;

    explicit PortIoBus(Writer& log) : log_(log) {}

    Status attach(std::uint16_t first, std::uint16_t count, PortIoDevice& device);
    std::uint32_t read(std::uint16_t port, unsigned size);
    void write(std::uint16_t port, unsigned size, std::uint32_t value);
    std::uint64_t unclaimed_accesses() const { return unclaimed_; }

private:
    struct Range {
        std::uint16_t first;
        std::uint16_t count;
        PortIoDevice* device;
    };
    PortIoDevice* find(std::uint16_t port) const;
    void note_unclaimed(std::uint16_t port, bool write);

    Writer& log_;
    Range ranges_[kMaxRanges]{};
    std::size_t count_ = 0;
    std::uint16_t reported_[kMaxReportedPorts]{};
    std::size_t reported_count_ = 0;
    std::uint64_t unclaimed_ = 0;
};

}  // namespace tandem
