// Poly1305 (RFC 8439 §2.5), incremental: init(key), update(bytes) any number of times, finish()
// for the tag. Arithmetic modulo 2^130-5 in three 44/44/42-bit limbs with 64x64->128-bit
// products (unsigned __int128: one MUL on x86-64, no library call, so it works freestanding).
// Constant time: no branch or index depends on the key or the message contents.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "replication/crypto/crypto_types.hpp"

namespace tandem::crypto {

inline constexpr std::size_t kPoly1305KeySize = 32;

class Poly1305 {
public:
    Poly1305() = default;
    explicit Poly1305(std::span<const std::uint8_t, kPoly1305KeySize> key) { init(key); }

    // §2.5: r = clamp(key[0..16)), s = key[16..32). The key must be used for one message only.
    void init(std::span<const std::uint8_t, kPoly1305KeySize> key);
    void update(std::span<const std::uint8_t> data);
    // Writes the 16-byte tag and wipes the state; init() again before reusing the object.
    void finish(std::span<std::uint8_t, kTagSize> tag);

private:
    // Processes whole 16-byte blocks; hibit is 2^128 (as 1 << 40 in the top limb) for full
    // blocks and 0 for the padded last block, which carries its own 0x01 byte.
    void blocks(const std::uint8_t* data, std::size_t size, std::uint64_t hibit);

    std::uint64_t r_[3]{};
    std::uint64_t h_[3]{};
    std::uint64_t pad_[2]{};
    std::uint8_t buffer_[16]{};
    std::size_t buffered_ = 0;
};

// One-shot MAC of a whole message.
void poly1305_mac(std::span<const std::uint8_t, kPoly1305KeySize> key, std::span<const std::uint8_t> message,
                  std::span<std::uint8_t, kTagSize> tag);

}  // namespace tandem::crypto
