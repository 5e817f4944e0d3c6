#include "hypervisor/devices/port_io.hpp"

namespace tandem {

Status PortIoBus::attach(std::uint16_t first, std::uint16_t count, PortIoDevice& device) {
    if (count == 0 || first + count > 0x10000) return Error::of("port I/O: bad port range", first);
    for (std::size_t i = 0; i < count_; ++i) {
        const Range& r = ranges_[i];
        if (first < r.first + r.count && r.first < first + count) {
            return Error::of("port I/O: range overlaps another device", first);
        }
    }
    if (count_ == kMaxRanges) return Error::of("port I/O: too many devices", kMaxRanges);
    ranges_[count_++] = {first, count, &device};
    return success();
}

PortIoDevice* PortIoBus::find(std::uint16_t port) const {
    for (std::size_t i = 0; i < count_; ++i) {
        if (port >= ranges_[i].first && port - ranges_[i].first < ranges_[i].count) return ranges_[i].device;
    }
    return nullptr;
}

void PortIoBus::note_unclaimed(std::uint16_t port, bool write) {
    ++unclaimed_;
    for (std::size_t i = 0; i < reported_count_; ++i) {
        if (reported_[i] == port) return;
    }
    if (reported_count_ < kMaxReportedPorts) {
        reported_[reported_count_++] = port;
        println(log_, "vm: guest {} port {}: no device there (reads return all ones, writes are dropped)",
                write ? "wrote" : "read", hex(port, 4));
    }
}

std::uint32_t PortIoBus::read(std::uint16_t port, unsigned size) {
    if (PortIoDevice* d = find(port)) return d->read(port, size);
    note_unclaimed(port, false);
    return size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
}

void PortIoBus::write(std::uint16_t port, unsigned size, std::uint32_t value) {
    if (PortIoDevice* d = find(port)) return d->write(port, size, value);
    note_unclaimed(port, true);
}

}  // namespace tandem
