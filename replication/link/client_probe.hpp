// The split-brain guard's probe (DESIGN §5): before a backup promotes, it asks on the client
// network whether the primary's tandem is still alive. The primary's hypervisor (not its guest,
// and not through the output-commit buffer) answers at once. A backup that hears an answer does
// not promote: the link is partitioned, not the primary dead.
//
// One Ethernet frame, EtherType 0x88B6 (IEEE 802 local experimental 2; the link uses 0x88B5),
// 62 bytes without FCS, little-endian fields at fixed offsets after the 14-byte Ethernet header:
//
//   offset size field
//        0    4 magic      "TPRB"
//        4    1 version    1
//        5    1 kind       1 request, 2 reply
//        6    2 reserved   zero
//        8    8 key_id     the link key's public fingerprint (0: insecure_link)
//       16   16 challenge  chosen at random by the backup for each request; echoed in the reply
//       32   16 tag        Poly1305 (RFC 8439 AEAD with empty plaintext) over bytes 0..31
//
// The tag's key is derived from the link's master key (so a host on the client network cannot
// answer for a dead primary and stop a failover, nor replay an old answer: the challenge is
// fresh), and its nonce is the kind and the first 8 challenge bytes (a request and its reply
// never share a nonce). With insecure_link=1 the tag is a checksum under the public key.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "hypervisor/net/mac_address.hpp"
#include "hypervisor/util/result.hpp"
#include "replication/link/link_keys.hpp"

namespace tandem::link {

inline constexpr std::uint16_t kProbeEtherType = 0x88B6;
inline constexpr std::size_t kProbeFrameSize = 14 + 48;
inline constexpr std::size_t kChallengeSize = 16;

enum class ProbeKind : std::uint8_t { request = 1, reply = 2 };

struct Challenge {
    std::uint8_t bytes[kChallengeSize];
    // From two random words (little-endian), for a fresh probe.
    static Challenge from_words(std::uint64_t a, std::uint64_t b) {
        Challenge c{};
        for (std::size_t i = 0; i < 8; ++i) {
            c.bytes[i] = static_cast<std::uint8_t>(a >> (8 * i));
            c.bytes[8 + i] = static_cast<std::uint8_t>(b >> (8 * i));
        }
        return c;
    }
    // A reply counts only with the challenge of the request it answers.
    bool operator==(const Challenge&) const = default;
};

struct ProbeFrame {
    MacAddress source;
    ProbeKind kind;
    Challenge challenge;
};

// Writes a probe frame into `out` (kProbeFrameSize bytes).
void build_probe(std::span<std::uint8_t, kProbeFrameSize> out, const MacAddress& destination, const MacAddress& source,
                 ProbeKind kind, const Challenge& challenge, const LinkSecret& secret);

// A frame of another EtherType is not a probe (nullopt-like error with is_probe false); a probe
// frame is checked completely: size, magic, version, kind, reserved bits, key id and tag.
struct ProbeParse {
    bool is_probe = false;  // EtherType 0x88B6
    bool valid = false;
    const char* problem = nullptr;  // why a probe frame was refused
    ProbeFrame frame{};
};
ProbeParse parse_probe(std::span<const std::uint8_t> frame, const LinkSecret& secret);

bool is_probe_ether_type(std::span<const std::uint8_t> frame);

}  // namespace tandem::link
