#include "replication/link/client_probe.hpp"

#include "replication/crypto/aead.hpp"

namespace tandem::link {
namespace {

constexpr std::size_t kEth = 14;
constexpr std::size_t kAuthenticated = 32;  // bytes 0..31 of the body
constexpr std::uint8_t kVersion = 1;
constexpr std::uint8_t kMagic[4] = {'T', 'P', 'R', 'B'};

// Labels for the probe key: HChaCha20(master, le64(label) | le64(label)), a derivation no
// traffic key can collide with (those mix two random, nonzero session ids).
constexpr std::uint64_t kProbeLabel = 0x65626f7270646e74;  // "tndprobe"

crypto::Key probe_key(const LinkSecret& secret) {
    if (secret.insecure) return kPublicKey;
    return derive_traffic_key(secret.master, kProbeLabel, kProbeLabel);
}

crypto::Nonce probe_nonce(ProbeKind kind, const Challenge& c) {
    crypto::Nonce n{};
    n[0] = static_cast<std::uint8_t>(kind);
    for (std::size_t i = 0; i < 8; ++i) n[4 + i] = c.bytes[i];
    return n;
}

void put64(std::uint8_t* p, std::uint64_t v) {
    for (int i = 0; i < 8; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}
std::uint64_t get64(const std::uint8_t* p) {
    std::uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = v << 8 | p[i];
    return v;
}

}  // namespace

bool is_probe_ether_type(std::span<const std::uint8_t> frame) {
    return frame.size() >= kEth && (frame[12] << 8 | frame[13]) == kProbeEtherType;
}

void build_probe(std::span<std::uint8_t, kProbeFrameSize> out, const MacAddress& destination, const MacAddress& source,
                 ProbeKind kind, const Challenge& challenge, const LinkSecret& secret) {
    for (std::size_t i = 0; i < kProbeFrameSize; ++i) out[i] = 0;
    for (std::size_t i = 0; i < 6; ++i) {
        out[i] = destination.bytes[i];
        out[6 + i] = source.bytes[i];
    }
    out[12] = kProbeEtherType >> 8;
    out[13] = kProbeEtherType & 0xff;
    std::uint8_t* body = out.data() + kEth;
    for (std::size_t i = 0; i < 4; ++i) body[i] = kMagic[i];
    body[4] = kVersion;
    body[5] = static_cast<std::uint8_t>(kind);
    put64(body + 8, secret.insecure ? 0 : secret.key_id);
    for (std::size_t i = 0; i < kChallengeSize; ++i) body[16 + i] = challenge.bytes[i];
    crypto::Tag tag = crypto::aead_tag(probe_key(secret), probe_nonce(kind, challenge), {body, kAuthenticated}, {});
    for (std::size_t i = 0; i < crypto::kTagSize; ++i) body[kAuthenticated + i] = tag[i];
}

ProbeParse parse_probe(std::span<const std::uint8_t> frame, const LinkSecret& secret) {
    ProbeParse r;
    if (!is_probe_ether_type(frame)) return r;
    r.is_probe = true;
    // Short frames are padded to 60 bytes on the wire; a probe is 62, so anything else is wrong
    // (a longer frame may carry padding from a NIC that pads to a larger minimum).
    if (frame.size() < kProbeFrameSize) {
        r.problem = "probe frame too short";
        return r;
    }
    const std::uint8_t* body = frame.data() + kEth;
    for (std::size_t i = 0; i < 4; ++i) {
        if (body[i] != kMagic[i]) {
            r.problem = "probe frame with a bad magic";
            return r;
        }
    }
    if (body[4] != kVersion) {
        r.problem = "probe frame of another version";
        return r;
    }
    if (body[5] != static_cast<std::uint8_t>(ProbeKind::request) && body[5] != static_cast<std::uint8_t>(ProbeKind::reply)) {
        r.problem = "probe frame of an unknown kind";
        return r;
    }
    if (body[6] != 0 || body[7] != 0) {
        r.problem = "probe frame with reserved bits set";
        return r;
    }
    std::uint64_t key_id = secret.insecure ? 0 : secret.key_id;
    if (get64(body + 8) != key_id) {
        r.problem = "probe frame for another link key";
        return r;
    }
    ProbeFrame f{};
    for (std::size_t i = 0; i < 6; ++i) f.source.bytes[i] = frame[6 + i];
    f.kind = static_cast<ProbeKind>(body[5]);
    for (std::size_t i = 0; i < kChallengeSize; ++i) f.challenge.bytes[i] = body[16 + i];
    crypto::Tag tag{};
    for (std::size_t i = 0; i < crypto::kTagSize; ++i) tag[i] = body[kAuthenticated + i];
    if (!crypto::aead_verify(probe_key(secret), probe_nonce(f.kind, f.challenge), {body, kAuthenticated}, {}, tag)) {
        r.problem = "probe frame that does not authenticate";
        return r;
    }
    r.valid = true;
    r.frame = f;
    return r;
}

}  // namespace tandem::link
