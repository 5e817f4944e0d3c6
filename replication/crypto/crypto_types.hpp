// Fixed-size byte strings of the ChaCha20-Poly1305 family (RFC 8439): a 256-bit key, a 96-bit
// nonce, a 128-bit tag. Plain arrays, so they copy by value and never allocate.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace tandem::crypto {

inline constexpr std::size_t kKeySize = 32;    // RFC 8439 §2.3: 256-bit key
inline constexpr std::size_t kNonceSize = 12;  // RFC 8439 §2.3: 96-bit nonce
inline constexpr std::size_t kTagSize = 16;    // RFC 8439 §2.5: 128-bit tag

using Key = std::array<std::uint8_t, kKeySize>;
using Nonce = std::array<std::uint8_t, kNonceSize>;
using Tag = std::array<std::uint8_t, kTagSize>;

}  // namespace tandem::crypto
