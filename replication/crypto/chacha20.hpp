// ChaCha20 (RFC 8439 §2.1-§2.4) and HChaCha20 (draft-irtf-cfrg-xchacha §2.2), portable scalar
// code: no SIMD (the image is built with -mno-sse), no tables, so its timing does not depend on
// the key or the data.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "replication/crypto/crypto_types.hpp"

namespace tandem::crypto {

inline constexpr std::size_t kChachaBlockSize = 64;

using ChachaState = std::array<std::uint32_t, 16>;

// RFC 8439 §2.1: the quarter round on four words.
constexpr void chacha_quarter_round(std::uint32_t& a, std::uint32_t& b, std::uint32_t& c, std::uint32_t& d) {
    auto rotl = [](std::uint32_t v, int n) { return static_cast<std::uint32_t>((v << n) | (v >> (32 - n))); };
    a += b; d ^= a; d = rotl(d, 16);
    c += d; b ^= c; b = rotl(b, 12);
    a += b; d ^= a; d = rotl(d, 8);
    c += d; b ^= c; b = rotl(b, 7);
}

// RFC 8439 §2.2: QUARTERROUND(x, y, z, w) on the words of a state.
constexpr void chacha_quarter_round(ChachaState& s, std::size_t x, std::size_t y, std::size_t z, std::size_t w) {
    chacha_quarter_round(s[x], s[y], s[z], s[w]);
}

// RFC 8439 §2.3: one 64-byte keystream block for (key, counter, nonce).
void chacha20_block(const Key& key, std::uint32_t counter, const Nonce& nonce,
                    std::span<std::uint8_t, kChachaBlockSize> out);

// RFC 8439 §2.4: out = in XOR keystream(key, nonce) starting at block `counter`. `out` must be
// as long as `in`; they may be the same buffer (in-place), but must not otherwise overlap.
// The caller keeps the message below 2^32 blocks (256 GiB) for one (key, nonce).
void chacha20_xor(const Key& key, std::uint32_t counter, const Nonce& nonce, std::span<const std::uint8_t> in,
                  std::span<std::uint8_t> out);

// HChaCha20 (draft-irtf-cfrg-xchacha-03 §2.2): a 256-bit subkey from a key and a 128-bit
// input, used here as the key-derivation function of the replication link (link_keys.hpp).
Key hchacha20(const Key& key, std::span<const std::uint8_t, 16> input);

}  // namespace tandem::crypto
