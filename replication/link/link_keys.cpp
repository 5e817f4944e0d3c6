#include "replication/link/link_keys.hpp"

#include "replication/crypto/chacha20.hpp"
#include "replication/crypto/constant_time.hpp"

namespace tandem::link {
namespace {

void put_le64(std::uint8_t* p, std::uint64_t v) {
    for (int i = 0; i < 8; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}

}  // namespace

void warn_if_insecure(Writer& out, const LinkSecret& secret) {
    if (!secret.insecure) return;
    println(out, "link: WARNING: insecure_link=1: no key, so anyone on the link's network can read the guest's memory "
                 "as it crosses and forge every frame: checkpoints the backup would run, acknowledgements that "
                 "release the guest's output unprotected, handshakes that drop the backup or make it take over. "
                 "For a test on a cable between the two machines only; give key= for anything else");
}

Result<LinkSecret> make_link_secret(bool has_key, std::span<const std::uint8_t, crypto::kKeySize> key, bool insecure_link) {
    if (has_key && insecure_link) {
        return Error::of("replication link: key= and insecure_link=1 contradict each other; give one of them");
    }
    LinkSecret secret;
    if (!has_key) {
        if (!insecure_link) {
            return Error::of("replication link: no key (key= with 64 hex digits, or a key module); refusing to "
                             "replicate unencrypted unless insecure_link=1 is given");
        }
        secret.insecure = true;
        return secret;
    }
    for (std::size_t i = 0; i < crypto::kKeySize; ++i) secret.master[i] = key[i];
    secret.key_id = derive_key_id(secret.master);
    return secret;
}

std::uint64_t derive_key_id(const crypto::Key& master) {
    static constexpr std::uint8_t kLabel[16] = {'t', 'a', 'n', 'd', 'e', 'm', ' ', 'k',
                                                'e', 'y', ' ', 'i', 'd', ' ', 'v', '1'};
    crypto::Key out = crypto::hchacha20(master, std::span<const std::uint8_t, 16>(kLabel));
    std::uint64_t id = 0;
    for (int i = 7; i >= 0; --i) id = (id << 8) | out[static_cast<std::size_t>(i)];
    crypto::secure_zero(out);
    return id == 0 ? 1 : id;  // 0 is reserved for "no key"
}

crypto::Key derive_handshake_key(const crypto::Key& master) {
    // The same construction as the key id with its own label: a separate PRF output, so the
    // handshake key and the key id reveal nothing about each other or the master key.
    static constexpr std::uint8_t kLabel[16] = {'t', 'a', 'n', 'd', 'e', 'm', ' ', 'h',
                                                'e', 'l', 'l', 'o', ' ', ' ', 'v', '1'};
    return crypto::hchacha20(master, std::span<const std::uint8_t, 16>(kLabel));
}

crypto::Key derive_traffic_key(const crypto::Key& master, std::uint64_t sender_session, std::uint64_t receiver_session) {
    std::uint8_t input[16];
    put_le64(input, sender_session);
    put_le64(input + 8, receiver_session);
    return crypto::hchacha20(master, std::span<const std::uint8_t, 16>(input));
}

crypto::Nonce frame_nonce(std::uint64_t sender_session, std::uint64_t seq) {
    crypto::Nonce n{};
    auto low = static_cast<std::uint32_t>(sender_session);
    for (int i = 0; i < 4; ++i) n[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(low >> (8 * i));
    put_le64(n.data() + 4, seq);
    return n;
}

}  // namespace tandem::link
