// Keys of the replication link (DESIGN.md §4).
//
// The operator gives one 256-bit master key (key= on the command line or a GRUB module). It is
// never used to encrypt directly. Each side picks a random 64-bit session id at every start and
// announces it in its HELLO; once both are known, each direction gets its own traffic key
//     K(sender -> receiver) = HChaCha20(master, le64(sender session) | le64(receiver session))
// so a new session on either side means fresh keys, and frames of an old session (or of the
// other direction) cannot be replayed into a new one. Under a traffic key the 96-bit nonce is
//     le32(low 32 bits of the sender's session id) | le64(frame sequence number)
// and the sequence number never repeats within a session: a nonce never repeats under one key.
//
// The key id is a public fingerprint of the master key, HChaCha20(master, "tandem key id v1")
// truncated to 64 bits: a PRF output, it reveals nothing about the key but lets the handshake
// say "the two sides have different keys" instead of only counting bad tags. Key id 0 means
// "no key" (insecure_link=1).
//
// The handshake key, HChaCha20(master, "tandem hello  v1"), tags the handshake frames (HELLO,
// HELLO_ACK refusals): they travel in the clear, so a peer with another key can still read why
// it cannot connect, but only a key holder can make one that changes anything
// (link_session.hpp). Their nonce is frame_nonce(session, seq) like every other frame's.
//
// insecure_link=1 (only when no key is given): nothing is encrypted, and every frame carries a
// Poly1305 checksum under the public all-zero key and nonce: bit errors are still caught, an
// attacker is not.
#pragma once

#include <cstdint>
#include <span>

#include "hypervisor/console/writer.hpp"
#include "hypervisor/util/result.hpp"
#include "replication/crypto/crypto_types.hpp"

namespace tandem::link {

struct LinkSecret {
    bool insecure = false;     // insecure_link=1: checksummed, not authenticated, not encrypted
    crypto::Key master{};      // zero when insecure
    std::uint64_t key_id = 0;  // 0 when insecure
};

// The start-up rule: a key means encryption; no key is refused unless insecure_link=1 is given;
// both together are contradictory and refused.
Result<LinkSecret> make_link_secret(bool has_key, std::span<const std::uint8_t, crypto::kKeySize> key, bool insecure_link);

// The warning every session on an insecure link prints at start (issue 14, item 6), so what
// insecure_link=1 gives up is said where the operator looks, not only in the documentation.
// Nothing for a keyed link.
void warn_if_insecure(Writer& out, const LinkSecret& secret);

std::uint64_t derive_key_id(const crypto::Key& master);
crypto::Key derive_handshake_key(const crypto::Key& master);
crypto::Key derive_traffic_key(const crypto::Key& master, std::uint64_t sender_session, std::uint64_t receiver_session);
crypto::Nonce frame_nonce(std::uint64_t sender_session, std::uint64_t seq);

// The public key and nonce of checksummed (plaintext) frames.
inline constexpr crypto::Key kPublicKey{};
inline constexpr crypto::Nonce kPublicNonce{};

}  // namespace tandem::link
