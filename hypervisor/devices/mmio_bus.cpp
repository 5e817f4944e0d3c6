#include "hypervisor/devices/mmio_bus.hpp"

namespace tandem {

Status MmioBus::attach(std::uint64_t base, std::uint64_t size, MmioDevice& device) {
    if (size == 0 || base + size < base) return Error::of("mmio: bad range", base);
    for (std::size_t i = 0; i < count_; ++i) {
        if (base < ranges_[i].base + ranges_[i].size && ranges_[i].base < base + size) {
            return Error::of("mmio: range overlaps another device", base);
        }
    }
    if (count_ == kMaxRanges) return Error::of("mmio: too many devices", kMaxRanges);
    ranges_[count_++] = {base, size, &device};
    return success();
}

MmioDevice* MmioBus::find(std::uint64_t gpa, unsigned size, std::uint64_t& offset) const {
    for (std::size_t i = 0; i < count_; ++i) {
        const Range& r = ranges_[i];
        // The whole access must fall inside one device: a straddling access is refused.
        if (gpa >= r.base && gpa - r.base < r.size && size <= r.size - (gpa - r.base)) {
            offset = gpa - r.base;
            return r.device;
        }
    }
    return nullptr;
}

}  // namespace tandem
