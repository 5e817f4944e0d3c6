#include "replication/crypto/aead.hpp"

#include "replication/crypto/chacha20.hpp"
#include "replication/crypto/constant_time.hpp"
#include "replication/crypto/poly1305.hpp"

namespace tandem::crypto {
namespace {

constexpr std::uint8_t kZeros[16] = {};

// §2.8: pad16(x), up to 15 zero bytes bringing the MAC input to a multiple of 16.
void pad16(Poly1305& mac, std::size_t size) {
    if (size % 16 != 0) mac.update(std::span<const std::uint8_t>(kZeros, 16 - size % 16));
}

void store_le64(std::uint8_t* p, std::uint64_t v) {
    for (int i = 0; i < 8; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}

// Two ranges that overlap without being the same range break the in-place contract.
bool partially_overlap(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) {
    if (a.empty() || b.empty() || a.data() == b.data()) return false;
    const std::uint8_t* a_end = a.data() + a.size();
    const std::uint8_t* b_end = b.data() + b.size();
    return a.data() < b_end && b.data() < a_end;
}

}  // namespace

Tag aead_tag(const Key& key, const Nonce& nonce, std::span<const std::uint8_t> aad,
             std::span<const std::uint8_t> ciphertext) {
    // §2.6: the Poly1305 one-time key is the first half of ChaCha20 block 0.
    std::uint8_t block0[kChachaBlockSize];
    chacha20_block(key, 0, nonce, block0);
    Poly1305 mac(std::span<const std::uint8_t, kPoly1305KeySize>(block0, kPoly1305KeySize));
    secure_zero(block0);
    mac.update(aad);
    pad16(mac, aad.size());
    mac.update(ciphertext);
    pad16(mac, ciphertext.size());
    std::uint8_t lengths[16];
    store_le64(lengths, aad.size());
    store_le64(lengths + 8, ciphertext.size());
    mac.update(lengths);
    Tag tag{};
    mac.finish(tag);
    return tag;
}

Status aead_seal(const Key& key, const Nonce& nonce, std::span<const std::uint8_t> aad,
                 std::span<const std::uint8_t> plaintext, std::span<std::uint8_t> ciphertext, Tag& tag) {
    if (ciphertext.size() != plaintext.size()) return Error::of("aead: output length differs from input", ciphertext.size());
    if (partially_overlap(plaintext, ciphertext)) return Error::of("aead: input and output overlap");
    chacha20_xor(key, 1, nonce, plaintext, ciphertext);  // §2.8: counter 1 for the message
    tag = aead_tag(key, nonce, aad, ciphertext);
    return success();
}

bool aead_verify(const Key& key, const Nonce& nonce, std::span<const std::uint8_t> aad,
                 std::span<const std::uint8_t> ciphertext, const Tag& tag) {
    Tag expected = aead_tag(key, nonce, aad, ciphertext);
    bool ok = equal_constant_time(expected, tag);
    secure_zero(expected);
    return ok;
}

Status aead_open(const Key& key, const Nonce& nonce, std::span<const std::uint8_t> aad,
                 std::span<const std::uint8_t> ciphertext, const Tag& tag, std::span<std::uint8_t> plaintext) {
    if (plaintext.size() != ciphertext.size()) return Error::of("aead: output length differs from input", plaintext.size());
    if (partially_overlap(plaintext, ciphertext)) return Error::of("aead: input and output overlap");
    if (!aead_verify(key, nonce, aad, ciphertext, tag)) {
        if (plaintext.data() != ciphertext.data()) secure_zero(plaintext);
        return Error::of("aead: authentication failed (tag mismatch)");
    }
    chacha20_xor(key, 1, nonce, ciphertext, plaintext);
    return success();
}

}  // namespace tandem::crypto
