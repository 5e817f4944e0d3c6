// What the e1000 tests share: a driver wired to a fake 82540EM and fake DMA memory, frame
// builders, and a sink that keeps copies of what the driver delivers.
#pragma once

#include <cstdint>
#include <vector>

#include "fake_dma.hpp"
#include "fake_e1000.hpp"
#include "nic-drivers/e1000/e1000.hpp"
#include "nic-drivers/nic.hpp"

namespace test {

inline constexpr Mac kMacA{0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
inline constexpr Mac kMacB{0x52, 0x54, 0x00, 0xab, 0xcd, 0xef};
inline constexpr Mac kBroadcast{0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
inline constexpr std::uint16_t kEtherTypeTandem = 0x88b5;

// An Ethernet frame of `length` bytes (header included) whose payload is a pattern from `seed`.
inline Octets make_frame(Mac dst, Mac src, std::size_t length, std::uint32_t seed = 1,
                         std::uint16_t ethertype = kEtherTypeTandem) {
    Octets f(length, 0);
    for (std::size_t i = 0; i < 6 && i < length; ++i) f[i] = dst[i];
    for (std::size_t i = 0; i < 6 && 6 + i < length; ++i) f[6 + i] = src[i];
    if (length > 13) {
        f[12] = static_cast<std::uint8_t>(ethertype >> 8);
        f[13] = static_cast<std::uint8_t>(ethertype);
    }
    std::uint32_t x = seed * 2654435761u + 1;
    for (std::size_t i = 14; i < length; ++i) {
        x = x * 1103515245u + 12345u;
        f[i] = static_cast<std::uint8_t>(x >> 16);
    }
    return f;
}

class CollectSink final : public tandem::nic::FrameSink {
public:
    void frame(tandem::nic::Frame bytes) override { frames.emplace_back(bytes.begin(), bytes.end()); }
    std::vector<Octets> frames;
};

// Everything a driver needs, in destruction-safe order (the driver goes first).
struct Rig {
    explicit Rig(Mac mac = kMacA) : device(dma, mac), nic(device, dma, delay) {}

    // Receives everything available, in calls of at most `budget`.
    std::vector<Octets> drain(std::size_t budget = 64) {
        CollectSink sink;
        while (nic.receive(sink, budget) != 0) {
        }
        return sink.frames;
    }

    FakeDmaMemory dma;
    FakeDelay delay;
    FakeE1000 device;
    tandem::nic::E1000 nic;
};

inline std::size_t send(tandem::nic::Nic& nic, const std::vector<Octets>& frames) {
    std::vector<tandem::nic::Frame> views(frames.begin(), frames.end());
    return nic.transmit(views);
}

inline std::size_t send(tandem::nic::Nic& nic, const Octets& frame) {
    tandem::nic::Frame view{frame};
    return nic.transmit({&view, 1});
}

}  // namespace test
