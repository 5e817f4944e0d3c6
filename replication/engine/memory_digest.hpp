// A digest of a whole guest memory, for verifying that a backup image equals the primary at an
// epoch: FNV-1a-style mixing of 64-bit words (eight times fewer steps than bytewise FNV, which
// matters in an emulator). Not cryptographic; equal memories give equal digests.
#pragma once

#include <cstdint>

#include "hypervisor/vm/guest_memory.hpp"

namespace tandem::engine {

Result<std::uint64_t> memory_digest(const GuestMemory& memory);
// Also stores each page's own digest in pages[page] (pages.size() >= memory.size() / 4096).
Result<std::uint64_t> memory_digest(const GuestMemory& memory, std::span<std::uint64_t> pages);

}  // namespace tandem::engine
