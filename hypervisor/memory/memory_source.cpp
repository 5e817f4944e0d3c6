#include "hypervisor/memory/memory_source.hpp"

namespace tandem {

Result<std::span<std::uint8_t>> MemorySource::zeroed(std::uint64_t bytes) {
    std::uint64_t rounded = align_up(bytes == 0 ? 1 : bytes, kPageSize);
    auto at = frames_.allocate(rounded);
    if (!at) return at.error();
    std::uint8_t* p = window_.at(*at, static_cast<std::size_t>(rounded));
    if (p == nullptr) return Error::of("memory: allocated frames the hypervisor cannot reach", *at);
    __builtin_memset(p, 0, rounded);
    return std::span<std::uint8_t>{p, static_cast<std::size_t>(rounded)};
}

}  // namespace tandem
