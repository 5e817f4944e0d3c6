// Page deltas: a page encoded against the copy the peer already has, as runs of changed bytes
// (u16 offset of the run from the end of the previous one, u16 length, the new bytes). The
// encoder gives up (returns 0) as soon as the delta would not be smaller than `limit`, so the
// caller sends the full page instead; the decoder checks every run against the page.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "hypervisor/util/result.hpp"

namespace tandem::checkpoint {

// Runs shorter than this many unchanged bytes are absorbed into the surrounding changed run
// (a run header costs 4 bytes).
inline constexpr std::size_t kDeltaMinGap = 8;

// Encodes new_page against old_page into out; returns the encoded size, or 0 if it would need
// `limit` bytes or more (or more than out holds). Both pages are kPageSize bytes. An unchanged
// page still gets a (one-byte) delta, so "dirty but equal" costs a few bytes.
std::size_t encode_delta(std::span<const std::uint8_t> old_page, std::span<const std::uint8_t> new_page,
                         std::span<std::uint8_t> out, std::size_t limit);

// Applies a delta to page (in place). Fails without a partial write visible to the caller's
// bookkeeping only in the sense that the page may be partly updated: callers apply into staging.
Status apply_delta(std::span<const std::uint8_t> delta, std::span<std::uint8_t> page);

}  // namespace tandem::checkpoint
