// The replication link key as text (DESIGN.md §4): what a GRUB module named link_key holds, the
// alternative to key= on the command line (README, "key"). Untrusted input from a file, parsed
// on the host tests and by the fuzzer with the same code the image runs.
//
// Exactly 64 hexadecimal digits (either case), the 32 key bytes in order, two digits each, high
// nibble first (as key= takes them). Whitespace (space, tab, CR, LF) may stand before, after and
// between digits, as an editor, `xxd -p` or `echo` leave it. Anything else is refused: a key that
// silently lost or gained a digit would only show later, as a key mismatch with the peer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "hypervisor/util/result.hpp"
#include "replication/crypto/crypto_types.hpp"

namespace tandem::link {

inline constexpr std::size_t kLinkKeyTextDigits = 2 * crypto::kKeySize;  // 64

// The key the text gives, or an Error naming what is wrong: no digits at all, a character that
// is neither a digit nor whitespace (value: its offset), more than 64 digits, or fewer (value: the
// digits found).
[[nodiscard]] Result<crypto::Key> parse_link_key_text(std::span<const std::uint8_t> text);

}  // namespace tandem::link
