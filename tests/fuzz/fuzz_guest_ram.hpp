// Guest RAM for the guest-facing fuzzers: two chunks at unrelated host-physical addresses (so
// every guest-memory access may have to be split), each inside a host buffer that has a guard page
// of a known pattern on either side. GuestMemory never hands out the guard pages, so after anything
// the guest triggers, `unchanged()` proves the host bytes around and inside guest RAM are exactly
// as they were: nothing outside the model was written, and nothing read-only wrote either.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <vector>

#include "hypervisor/vm/guest_memory.hpp"
#include "tests/unit/vmx_fake_host_memory.hpp"

namespace fuzz {

class GuardedRam {
public:
    static constexpr std::uint64_t kGuard = 4096;
    static constexpr std::uint8_t kGuardByte = 0xa5;
    static constexpr std::uint64_t kHpaLow = 0x4000'0000, kHpaHigh = 0x9'1234'5000;

    // `chunk` bytes (a multiple of 4 KiB) per chunk: guest-physical [0, 2 * chunk).
    explicit GuardedRam(std::uint64_t chunk) : chunk_(chunk) {
        host_.add(kHpaLow - kGuard, static_cast<std::size_t>(chunk + 2 * kGuard), kGuardByte);
        host_.add(kHpaHigh - kGuard, static_cast<std::size_t>(chunk + 2 * kGuard), kGuardByte);
        if (!memory_.append(kHpaLow, chunk) || !memory_.append(kHpaHigh, chunk)) std::abort();
        if (memory_.chunks().size() != 2) std::abort();  // really two pieces
        if (!memory_.fill(0, 0, 2 * chunk)) std::abort();
    }

    tandem::GuestMemory& memory() { return memory_; }
    std::uint64_t size() const { return 2 * chunk_; }

    // Loads `bytes` at guest-physical `gpa` (wrapping inside RAM): the guest's own stores.
    void load(std::uint64_t gpa, std::span<const std::uint8_t> bytes) {
        gpa %= size();
        while (!bytes.empty()) {
            std::size_t n = bytes.size() < size() - gpa ? bytes.size() : static_cast<std::size_t>(size() - gpa);
            if (!memory_.write(gpa, bytes.first(n))) std::abort();
            bytes = bytes.subspan(n);
            gpa = 0;
        }
    }

    using Snapshot = std::vector<std::vector<std::uint8_t>>;
    Snapshot snapshot() const {
        Snapshot s;
        for (const auto& r : host_.regions()) s.push_back(r.bytes);
        return s;
    }
    bool unchanged(const Snapshot& s) const {
        const auto& regions = host_.regions();
        if (regions.size() != s.size()) return false;
        for (std::size_t i = 0; i < s.size(); ++i) {
            if (regions[i].bytes != s[i]) return false;
        }
        return guards_intact();
    }
    bool guards_intact() const {
        for (const auto& r : host_.regions()) {
            for (std::size_t i = 0; i < kGuard; ++i) {
                if (r.bytes[i] != kGuardByte || r.bytes[r.bytes.size() - 1 - i] != kGuardByte) return false;
            }
        }
        return true;
    }

private:
    std::uint64_t chunk_;
    test::VectorHostMemory host_;
    tandem::GuestMemory memory_{host_};
};

}  // namespace fuzz
