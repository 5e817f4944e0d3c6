// A HostMemoryWindow over std::vectors placed at made-up host-physical addresses: what
// GuestMemory reaches through in host tests instead of the machine's identity map. A request
// that is not wholly inside one region gets nullptr, as an unmapped range would.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "hypervisor/vm/guest_memory.hpp"

namespace test {

class VectorHostMemory final : public tandem::HostMemoryWindow {
public:
    struct Region {
        std::uint64_t base;
        std::vector<std::uint8_t> bytes;
    };

    VectorHostMemory() = default;
    VectorHostMemory(std::uint64_t base, std::size_t size, std::uint8_t fill = 0) { add(base, size, fill); }

    void add(std::uint64_t base, std::size_t size, std::uint8_t fill = 0) {
        regions_.push_back({base, std::vector<std::uint8_t>(size, fill)});
    }

    std::uint8_t* at(std::uint64_t hpa, std::size_t length) const override {
        for (const Region& r : regions_) {
            if (hpa >= r.base && hpa - r.base <= r.bytes.size() && length <= r.bytes.size() - (hpa - r.base)) {
                return const_cast<std::uint8_t*>(r.bytes.data()) + (hpa - r.base);
            }
        }
        return nullptr;
    }

    // One byte at a host-physical address (the test's view, bypassing GuestMemory).
    std::uint8_t byte(std::uint64_t hpa) const {
        std::uint8_t* p = at(hpa, 1);
        return p == nullptr ? 0 : *p;
    }
    void poke(std::uint64_t hpa, std::uint8_t value) {
        if (std::uint8_t* p = at(hpa, 1)) *p = value;
    }
    const std::vector<Region>& regions() const { return regions_; }

private:
    std::vector<Region> regions_;
};

// A window onto nothing: for GuestMemory objects that only describe chunks (EPT tests).
class NoHostMemory final : public tandem::HostMemoryWindow {
public:
    std::uint8_t* at(std::uint64_t, std::size_t) const override { return nullptr; }
};

}  // namespace test
