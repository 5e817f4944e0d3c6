// What the Linux boot protocol tests (test_linux_boot_*.cpp) share: a guest over a host buffer
// whose bytes show what was written, the lead's usual e820 map, initrd contents, tandem's
// boot-data region, and a bzImage parsed or the test stopped.
#pragma once

#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "guest-boot/linux_boot.hpp"
#include "helpers.hpp"
#include "linux_image_builder.hpp"
#include "vmx_fake_host_memory.hpp"

namespace linux_boot_test {

using namespace tandem;
using namespace tandem::guest_boot;
using namespace tandem::guest_boot::linux_boot;

inline constexpr std::uint64_t kHost = 0x1'0000'0000;
inline constexpr std::uint64_t kRam = 32ull << 20;
inline constexpr std::uint8_t kUntouched = 0xcc;
inline constexpr std::uint64_t kGiB = 1ull << 30;

struct Guest {
    std::uint64_t size;
    test::VectorHostMemory host;
    GuestMemory memory{host};
    explicit Guest(std::uint64_t ram = kRam) : size(ram), host(kHost, ram, kUntouched) {
        REQUIRE(memory.append(kHost, ram).ok());
    }
    std::vector<std::uint8_t> read(std::uint64_t gpa, std::size_t n) const {
        std::vector<std::uint8_t> out(n);
        REQUIRE(memory.read(gpa, out).ok());
        return out;
    }
    std::uint64_t q(std::uint64_t gpa) const { return *memory.load<std::uint64_t>(gpa); }
    std::uint8_t b(std::uint64_t gpa) const { return *memory.load<std::uint8_t>(gpa); }
    bool untouched() const {
        for (std::uint8_t byte : host.regions()[0].bytes) {
            if (byte != kUntouched) return false;
        }
        return true;
    }
    std::unique_ptr<BootParams> zero_page(std::uint64_t at) const {
        auto bp = std::make_unique<BootParams>();
        auto raw = read(at, sizeof(BootParams));
        std::memcpy(bp.get(), raw.data(), raw.size());
        return bp;
    }
    std::string c_string(std::uint64_t at) const {
        std::string s;
        while (b(at) != 0) s += static_cast<char>(b(at++));
        return s;
    }
};

// The map the lead's EPT layout gives: low RAM, the legacy hole, RAM from 1 MiB, and MMIO
// windows (virtio-mmio, IOAPIC, LAPIC), deliberately out of order.
inline std::vector<MemoryRange> usual_map(std::uint64_t ram = kRam) {
    return {{0xd000'0000, 0x1000, E820Type::reserved},
            {0x10'0000, ram - 0x10'0000, E820Type::ram},
            {0, 0xa'0000, E820Type::ram},
            {0xa'0000, 0x6'0000, E820Type::reserved},
            {0xfec0'0000, 0x1000, E820Type::reserved},
            {0xfee0'0000, 0x1000, E820Type::reserved}};
}

inline std::vector<std::uint8_t> initrd_bytes(std::size_t n) {
    std::vector<std::uint8_t> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint8_t>(0x31 + i * 3);
    return v;
}

inline constexpr PhysRegion kBootData{0x1000, 0x10000};

inline BzImage parsed(const std::vector<std::uint8_t>& file) {
    auto r = parse_bzimage(file);
    REQUIRE_MESSAGE(r.ok(), r.error().message);
    return *r;
}

// Packed fields are read by value: doctest would bind a reference to them.
template <class T>
T val(T v) {
    return v;
}

}  // namespace linux_boot_test
