// Fake DMA memory for driver tests: each allocation is a page-aligned host buffer with a fake
// physical address far from its host address (above 4 GiB, so the high halves of base registers
// matter), with an unallocated guard page between allocations. The fake device reaches memory
// only through translate(), which refuses (and reports) any range the driver was not given or
// has released. New memory is filled with 0xa5 so a driver that forgets to initialise shows it.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "nic-drivers/delay.hpp"
#include "nic-drivers/dma.hpp"

namespace test {

class FakeDmaMemory final : public tandem::nic::DmaMemory {
public:
    static constexpr std::uint64_t kFirstPhys = 0x1'2340'0000ull;
    static constexpr std::size_t kPage = 4096;

    tandem::Result<tandem::nic::DmaBuffer> allocate(std::size_t size) override {
        ++allocations_;
        if (fail_allocations_after_ == 0) return tandem::Error::of("fake dma: out of memory", size);
        if (fail_allocations_after_ > 0) --fail_allocations_after_;
        std::size_t rounded = (size + kPage - 1) / kPage * kPage;
        Region r;
        r.phys = next_phys_;
        r.size = rounded;
        r.memory.reset(static_cast<std::uint8_t*>(std::aligned_alloc(kPage, rounded == 0 ? kPage : rounded)));
        std::fill(r.memory.get(), r.memory.get() + rounded, std::uint8_t{0xa5});
        next_phys_ += rounded + kPage;  // guard page: never allocated
        regions_.push_back(std::move(r));
        const Region& back = regions_.back();
        return tandem::nic::DmaBuffer{back.memory.get() + misalign_, back.phys + misalign_, rounded};
    }

    void release(const tandem::nic::DmaBuffer& buffer) override {
        for (Region& r : regions_) {
            if (buffer.phys >= r.phys && buffer.phys - r.phys < r.size && !r.released) {
                r.released = true;
                return;
            }
        }
        report("release of a buffer never allocated", buffer.phys);
    }

    // The host bytes behind [phys, phys + length), or nullptr (and a recorded violation) when the
    // range is not inside one live allocation.
    std::uint8_t* translate(std::uint64_t phys, std::size_t length) {
        for (Region& r : regions_) {
            if (phys >= r.phys && phys - r.phys <= r.size && length <= r.size - (phys - r.phys)) {
                if (r.released) break;
                return r.memory.get() + (phys - r.phys);
            }
        }
        report("device access outside the memory the driver allocated", phys);
        return nullptr;
    }

    std::size_t live_allocations() const {
        std::size_t n = 0;
        for (const Region& r : regions_) n += r.released ? 0 : 1;
        return n;
    }
    std::size_t allocations() const { return allocations_; }
    const std::vector<std::string>& violations() const { return violations_; }
    // Violations are test failures unless a test expects them.
    void expect_violations() { strict_ = false; }
    // The next `n` allocations succeed, the rest fail. Negative: never fail.
    void fail_allocations_after(long n) { fail_allocations_after_ = n; }
    // Hands out buffers `bytes` past the page boundary (a broken allocator).
    void misalign(std::size_t bytes) { misalign_ = bytes; }

private:
    struct Free {
        void operator()(std::uint8_t* p) const { std::free(p); }
    };
    struct Region {
        std::uint64_t phys = 0;
        std::size_t size = 0;
        bool released = false;
        std::unique_ptr<std::uint8_t, Free> memory;
    };

    void report(const char* what, std::uint64_t phys) {
        char hex[32];
        std::snprintf(hex, sizeof hex, " (phys 0x%llx)", static_cast<unsigned long long>(phys));
        violations_.push_back(std::string("fake dma: ") + what + hex);
        if (strict_) FAIL_CHECK(violations_.back());
    }

    std::vector<Region> regions_;
    std::uint64_t next_phys_ = kFirstPhys;
    std::vector<std::string> violations_;
    bool strict_ = true;
    long fail_allocations_after_ = -1;
    std::size_t allocations_ = 0;
    std::size_t misalign_ = 0;
};

// Simulated time: waiting advances a counter, nothing sleeps.
class FakeDelay final : public tandem::nic::Delay {
public:
    void microseconds(std::uint32_t us) override { now_us += us; }
    std::uint64_t now_us = 0;
};

}  // namespace test
