// Time arithmetic the transport's units share: nanoseconds from a monotonic Clock
// (link_interfaces.hpp), where "since" may lie in the future after a timer was pushed forward.
#pragma once

#include <cstdint>

namespace tandem::link {

// Time from `since` to `now`, zero when `since` is not in the past (never a wrapped difference).
constexpr std::uint64_t elapsed(std::uint64_t now, std::uint64_t since) { return now >= since ? now - since : 0; }

}  // namespace tandem::link
