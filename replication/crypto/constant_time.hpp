// Comparisons and wiping for secrets. A tag check must not stop at the first differing byte
// (its duration would tell an attacker how many leading bytes were right), and key material on
// the stack must be overwritten before the frame is reused, in a way the optimiser cannot drop.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace tandem::crypto {

// True when a and b have equal size and contents; the time depends only on the size.
inline bool equal_constant_time(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) {
    if (a.size() != b.size()) return false;
    std::uint32_t difference = 0;
    for (std::size_t i = 0; i < a.size(); ++i) difference |= static_cast<std::uint32_t>(a[i] ^ b[i]);
    // Fold to one bit without a data-dependent branch.
    return ((difference - 1u) >> 31) == 1u;
}

// Overwrites bytes with zeros through a volatile pointer, so the stores are never elided.
inline void secure_zero(std::span<std::uint8_t> bytes) {
    volatile std::uint8_t* p = bytes.data();
    for (std::size_t i = 0; i < bytes.size(); ++i) p[i] = 0;
}

}  // namespace tandem::crypto
