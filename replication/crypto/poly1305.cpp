#include "replication/crypto/poly1305.hpp"

#include "replication/crypto/constant_time.hpp"

namespace tandem::crypto {
namespace {

using u128 = unsigned __int128;

constexpr std::uint64_t kMask44 = 0xfffffffffffull;
constexpr std::uint64_t kMask42 = 0x3ffffffffffull;

constexpr std::uint64_t load64(const std::uint8_t* p) {
    std::uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
    return v;
}

constexpr void store64(std::uint8_t* p, std::uint64_t v) {
    for (int i = 0; i < 8; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}

constexpr std::uint64_t lo(u128 v) { return static_cast<std::uint64_t>(v); }

}  // namespace

void Poly1305::init(std::span<const std::uint8_t, kPoly1305KeySize> key) {
    std::uint64_t t0 = load64(key.data());
    std::uint64_t t1 = load64(key.data() + 8);
    // §2.5: clamp r &= 0x0ffffffc0ffffffc0ffffffc0fffffff, split into 44/44/42-bit limbs.
    r_[0] = t0 & 0xffc0fffffffull;
    r_[1] = ((t0 >> 44) | (t1 << 20)) & 0xfffffc0ffffull;
    r_[2] = (t1 >> 24) & 0x00ffffffc0full;
    h_[0] = h_[1] = h_[2] = 0;
    pad_[0] = load64(key.data() + 16);
    pad_[1] = load64(key.data() + 24);
    buffered_ = 0;
}

void Poly1305::blocks(const std::uint8_t* data, std::size_t size, std::uint64_t hibit) {
    const std::uint64_t r0 = r_[0], r1 = r_[1], r2 = r_[2];
    // 2^130 = 5 (mod p); limb 2 sits at 2^88, so products that overflow 2^132 fold back * 5 * 4.
    const std::uint64_t s1 = r1 * (5 << 2), s2 = r2 * (5 << 2);
    std::uint64_t h0 = h_[0], h1 = h_[1], h2 = h_[2];
    while (size >= 16) {
        std::uint64_t t0 = load64(data);
        std::uint64_t t1 = load64(data + 8);
        // Acc += block (with the 2^128 bit, §2.5)
        h0 += t0 & kMask44;
        h1 += ((t0 >> 44) | (t1 << 20)) & kMask44;
        h2 += ((t1 >> 24) & kMask42) | hibit;
        // Acc *= r, partially reduced modulo 2^130 - 5
        u128 d0 = u128{h0} * r0 + u128{h1} * s2 + u128{h2} * s1;
        u128 d1 = u128{h0} * r1 + u128{h1} * r0 + u128{h2} * s2;
        u128 d2 = u128{h0} * r2 + u128{h1} * r1 + u128{h2} * r0;
        std::uint64_t c = lo(d0 >> 44);
        h0 = lo(d0) & kMask44;
        d1 += c;
        c = lo(d1 >> 44);
        h1 = lo(d1) & kMask44;
        d2 += c;
        c = lo(d2 >> 42);
        h2 = lo(d2) & kMask42;
        h0 += c * 5;
        c = h0 >> 44;
        h0 &= kMask44;
        h1 += c;
        data += 16;
        size -= 16;
    }
    h_[0] = h0;
    h_[1] = h1;
    h_[2] = h2;
}

void Poly1305::update(std::span<const std::uint8_t> data) {
    const std::uint8_t* p = data.data();
    std::size_t size = data.size();
    if (buffered_ > 0) {
        std::size_t take = 16 - buffered_ < size ? 16 - buffered_ : size;
        for (std::size_t i = 0; i < take; ++i) buffer_[buffered_ + i] = p[i];
        buffered_ += take;
        p += take;
        size -= take;
        if (buffered_ < 16) return;
        blocks(buffer_, 16, 1ull << 40);
        buffered_ = 0;
    }
    if (size >= 16) {
        std::size_t whole = size & ~std::size_t{15};
        blocks(p, whole, 1ull << 40);
        p += whole;
        size -= whole;
    }
    for (std::size_t i = 0; i < size; ++i) buffer_[i] = p[i];
    buffered_ = size;
}

void Poly1305::finish(std::span<std::uint8_t, kTagSize> tag) {
    if (buffered_ > 0) {  // §2.5: the short last block gets a 0x01 byte after its data
        buffer_[buffered_] = 1;
        for (std::size_t i = buffered_ + 1; i < 16; ++i) buffer_[i] = 0;
        blocks(buffer_, 16, 0);
    }
    std::uint64_t h0 = h_[0], h1 = h_[1], h2 = h_[2];
    // Full carry propagation.
    std::uint64_t c = h1 >> 44;
    h1 &= kMask44;
    h2 += c; c = h2 >> 42; h2 &= kMask42;
    h0 += c * 5; c = h0 >> 44; h0 &= kMask44;
    h1 += c; c = h1 >> 44; h1 &= kMask44;
    h2 += c; c = h2 >> 42; h2 &= kMask42;
    h0 += c * 5; c = h0 >> 44; h0 &= kMask44;
    h1 += c;
    // g = h + -p = h + 5 - 2^130; take g when it does not borrow (h >= p), without a branch.
    std::uint64_t g0 = h0 + 5; c = g0 >> 44; g0 &= kMask44;
    std::uint64_t g1 = h1 + c; c = g1 >> 44; g1 &= kMask44;
    std::uint64_t g2 = h2 + c - (1ull << 42);
    std::uint64_t use_g = (g2 >> 63) - 1;  // all ones when g2 did not go negative
    h0 = (h0 & ~use_g) | (g0 & use_g);
    h1 = (h1 & ~use_g) | (g1 & use_g);
    h2 = (h2 & ~use_g) | (g2 & use_g);
    // tag = (h + s) mod 2^128
    std::uint64_t t0 = pad_[0], t1 = pad_[1];
    h0 += t0 & kMask44; c = h0 >> 44; h0 &= kMask44;
    h1 += (((t0 >> 44) | (t1 << 20)) & kMask44) + c; c = h1 >> 44; h1 &= kMask44;
    h2 += ((t1 >> 24) & kMask42) + c; h2 &= kMask42;
    store64(tag.data(), h0 | (h1 << 44));
    store64(tag.data() + 8, (h1 >> 20) | (h2 << 24));
    // Wipe the one-time key and the accumulator.
    secure_zero(std::span<std::uint8_t>(reinterpret_cast<std::uint8_t*>(this), sizeof(*this)));
}

void poly1305_mac(std::span<const std::uint8_t, kPoly1305KeySize> key, std::span<const std::uint8_t> message,
                  std::span<std::uint8_t, kTagSize> tag) {
    Poly1305 mac(key);
    mac.update(message);
    mac.finish(tag);
}

}  // namespace tandem::crypto
