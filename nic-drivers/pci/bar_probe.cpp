#include "nic-drivers/pci/bar_probe.hpp"

namespace tandem::pci {
namespace {

std::uint16_t bar_offset(std::size_t index) { return static_cast<std::uint16_t>(reg::kBar0 + 4 * index); }

// Writes all ones to the BAR, reads back, restores the original value. Decode is off.
std::uint32_t size_mask(ConfigSpace& config, Address at, std::uint16_t offset, std::uint32_t original) {
    config.write32(at, offset, 0xffff'ffffu);
    std::uint32_t mask = config.read32(at, offset);
    config.write32(at, offset, original);
    return mask;
}

// Decodes BAR `i` (and, for a 64-bit memory BAR, i + 1). Returns how many slots it used.
std::size_t decode_one(ConfigSpace& config, Address at, std::span<Bar> bars, std::size_t i) {
    std::uint16_t offset = bar_offset(i);
    std::uint32_t low = config.read32(at, offset);
    std::uint32_t low_mask = size_mask(config, at, offset, low);
    Bar& bar = bars[i];
    bar = Bar{};
    if (low_mask == 0) return 1;  // not implemented: no bit sticks
    if ((low & bar_bits::kIo) != 0) {
        std::uint32_t mask = low_mask & ~bar_bits::kIoFlags;
        if (mask == 0) return 1;
        // A 16-bit decoder reads zeros in bits 31:16; the lowest sticking bit still gives the size.
        bar.kind = BarKind::io;
        bar.base = low & ~bar_bits::kIoFlags;
        bar.size = bar_size_from_mask(mask);
        return 1;
    }
    bool prefetchable = (low & bar_bits::kPrefetchable) != 0;
    if ((low & bar_bits::kMemTypeMask) != bar_bits::kMemType64) {
        if ((low_mask & ~bar_bits::kMemFlags) == 0) return 1;
        bar.prefetchable = prefetchable;
        bar.kind = BarKind::memory32;  // type 00 (and the legacy "below 1 MiB" type 01)
        bar.base = low & ~bar_bits::kMemFlags;
        bar.size = bar_size_from_mask(0xffff'ffff'0000'0000ull | (low_mask & ~bar_bits::kMemFlags));
        return 1;
    }
    if (i + 1 >= bars.size()) return 1;  // a 64-bit BAR in the last slot is malformed: leave it none
    std::uint16_t high_offset = bar_offset(i + 1);
    std::uint32_t high = config.read32(at, high_offset);
    std::uint32_t high_mask = size_mask(config, at, high_offset, high);
    std::uint64_t mask = (static_cast<std::uint64_t>(high_mask) << 32) | (low_mask & ~bar_bits::kMemFlags);
    bars[i + 1] = Bar{};
    bars[i + 1].upper_half = true;
    if (mask == 0) return 2;
    bar.prefetchable = prefetchable;
    bar.kind = BarKind::memory64;
    bar.base = (static_cast<std::uint64_t>(high) << 32) | (low & ~bar_bits::kMemFlags);
    bar.size = bar_size_from_mask(mask);
    return 2;
}

}  // namespace

void probe_bars(ConfigSpace& config, Address at, std::span<Bar> bars) {
    std::uint16_t command_before = config.read16(at, reg::kCommand);
    auto decode_bits = static_cast<std::uint16_t>(command::kIoSpace | command::kMemorySpace);
    if ((command_before & decode_bits) != 0) {
        config.write16(at, reg::kCommand, static_cast<std::uint16_t>(command_before & ~decode_bits));
    }
    for (std::size_t i = 0; i < bars.size();) i += decode_one(config, at, bars, i);
    if ((command_before & decode_bits) != 0) config.write16(at, reg::kCommand, command_before);
}

}  // namespace tandem::pci
