// AEAD_CHACHA20_POLY1305 (RFC 8439 §2.8): seal = encrypt then MAC, open = verify then decrypt.
// open() never releases plaintext for a message whose tag does not verify: the tag is checked
// (in constant time) over the ciphertext first, and only then is anything decrypted; on failure
// the output buffer is zeroed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "hypervisor/util/result.hpp"
#include "replication/crypto/crypto_types.hpp"

namespace tandem::crypto {

// RFC 8439 §2.8: ciphertext = ChaCha20(key, counter 1, nonce) XOR plaintext, and
// tag = Poly1305(otk, aad | pad16 | ciphertext | pad16 | le64(|aad|) | le64(|ciphertext|)) with
// otk = the first 32 bytes of ChaCha20 block 0 (§2.6). `ciphertext` must be as long as
// `plaintext`; the two may be the same buffer (in place) but must not otherwise overlap.
Status aead_seal(const Key& key, const Nonce& nonce, std::span<const std::uint8_t> aad,
                 std::span<const std::uint8_t> plaintext, std::span<std::uint8_t> ciphertext, Tag& tag);

// Only the tag check of open(): true when `tag` authenticates (aad, ciphertext).
[[nodiscard]] bool aead_verify(const Key& key, const Nonce& nonce, std::span<const std::uint8_t> aad,
                               std::span<const std::uint8_t> ciphertext, const Tag& tag);

// Verifies, then decrypts into `plaintext` (same length as `ciphertext`; may be the same buffer).
// On a bad tag returns an error and zeroes `plaintext` (when it is a separate buffer; in place,
// the ciphertext is left as it was): no byte of unauthenticated plaintext is ever written.
Status aead_open(const Key& key, const Nonce& nonce, std::span<const std::uint8_t> aad,
                 std::span<const std::uint8_t> ciphertext, const Tag& tag, std::span<std::uint8_t> plaintext);

// The tag seal() computes over (aad, ciphertext). With an empty ciphertext it authenticates data
// sent in the clear (all of it as aad): exactly aead_seal with an empty plaintext.
Tag aead_tag(const Key& key, const Nonce& nonce, std::span<const std::uint8_t> aad,
             std::span<const std::uint8_t> ciphertext);

}  // namespace tandem::crypto
