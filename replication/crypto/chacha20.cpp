#include "replication/crypto/chacha20.hpp"

#include "replication/crypto/constant_time.hpp"

namespace tandem::crypto {
namespace {

constexpr std::uint32_t load32(const std::uint8_t* p) {
    return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
           static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}

constexpr void store32(std::uint8_t* p, std::uint32_t v) {
    p[0] = static_cast<std::uint8_t>(v);
    p[1] = static_cast<std::uint8_t>(v >> 8);
    p[2] = static_cast<std::uint8_t>(v >> 16);
    p[3] = static_cast<std::uint8_t>(v >> 24);
}

// RFC 8439 §2.3: constants "expand 32-byte k", the key, the block counter, the nonce.
ChachaState initial_state(const Key& key, std::uint32_t counter, const std::uint8_t* nonce16_or_12, bool wide) {
    ChachaState s{0x61707865u, 0x3320646eu, 0x79622d32u, 0x6b206574u};
    for (std::size_t i = 0; i < 8; ++i) s[4 + i] = load32(key.data() + 4 * i);
    if (wide) {  // HChaCha20: words 12-15 are the 128-bit input
        for (std::size_t i = 0; i < 4; ++i) s[12 + i] = load32(nonce16_or_12 + 4 * i);
    } else {
        s[12] = counter;
        for (std::size_t i = 0; i < 3; ++i) s[13 + i] = load32(nonce16_or_12 + 4 * i);
    }
    return s;
}

// RFC 8439 §2.3.1: ten iterations of a column round and a diagonal round.
void twenty_rounds(ChachaState& x) {
    for (int i = 0; i < 10; ++i) {
        chacha_quarter_round(x, 0, 4, 8, 12);
        chacha_quarter_round(x, 1, 5, 9, 13);
        chacha_quarter_round(x, 2, 6, 10, 14);
        chacha_quarter_round(x, 3, 7, 11, 15);
        chacha_quarter_round(x, 0, 5, 10, 15);
        chacha_quarter_round(x, 1, 6, 11, 12);
        chacha_quarter_round(x, 2, 7, 8, 13);
        chacha_quarter_round(x, 3, 4, 9, 14);
    }
}

void wipe(ChachaState& s) { secure_zero(std::span<std::uint8_t>(reinterpret_cast<std::uint8_t*>(s.data()), sizeof(s))); }

}  // namespace

void chacha20_block(const Key& key, std::uint32_t counter, const Nonce& nonce,
                    std::span<std::uint8_t, kChachaBlockSize> out) {
    ChachaState s = initial_state(key, counter, nonce.data(), false);
    ChachaState x = s;
    twenty_rounds(x);
    for (std::size_t i = 0; i < 16; ++i) store32(out.data() + 4 * i, x[i] + s[i]);
    wipe(s);
    wipe(x);
}

void chacha20_xor(const Key& key, std::uint32_t counter, const Nonce& nonce, std::span<const std::uint8_t> in,
                  std::span<std::uint8_t> out) {
    std::size_t size = in.size() < out.size() ? in.size() : out.size();
    const std::uint8_t* src = in.data();
    std::uint8_t* dst = out.data();
    ChachaState s = initial_state(key, counter, nonce.data(), false);
    ChachaState x{};
    while (size >= kChachaBlockSize) {
        x = s;
        twenty_rounds(x);
        // RFC 8439 §2.4: serialise (x + s) little-endian and XOR, one word at a time.
        for (std::size_t i = 0; i < 16; ++i) store32(dst + 4 * i, load32(src + 4 * i) ^ (x[i] + s[i]));
        ++s[12];
        src += kChachaBlockSize;
        dst += kChachaBlockSize;
        size -= kChachaBlockSize;
    }
    if (size > 0) {  // §2.4.1: the last partial block uses only part of the keystream
        x = s;
        twenty_rounds(x);
        std::uint8_t block[kChachaBlockSize];
        for (std::size_t i = 0; i < 16; ++i) store32(block + 4 * i, x[i] + s[i]);
        for (std::size_t i = 0; i < size; ++i) dst[i] = static_cast<std::uint8_t>(src[i] ^ block[i]);
        secure_zero(block);
    }
    wipe(s);
    wipe(x);
}

Key hchacha20(const Key& key, std::span<const std::uint8_t, 16> input) {
    ChachaState x = initial_state(key, 0, input.data(), true);
    twenty_rounds(x);
    // No feed-forward: the output is words 0-3 and 12-15 of the permuted state.
    Key out{};
    for (std::size_t i = 0; i < 4; ++i) {
        store32(out.data() + 4 * i, x[i]);
        store32(out.data() + 16 + 4 * i, x[12 + i]);
    }
    wipe(x);
    return out;
}

}  // namespace tandem::crypto
