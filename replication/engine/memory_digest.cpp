#include "replication/engine/memory_digest.hpp"

#include "hypervisor/util/fnv.hpp"

namespace tandem::engine {

Result<std::uint64_t> memory_digest(const GuestMemory& memory, std::span<std::uint64_t> pages) {
    std::uint64_t h = kFnv64Offset;
    std::uint64_t words[256];
    constexpr std::uint64_t kPage = 4096;
    for (std::uint64_t page = 0; page < memory.size() / kPage; ++page) {
        std::uint64_t ph = kFnv64Offset;
        for (std::uint64_t off = 0; off < kPage; off += sizeof(words)) {
            if (auto s = memory.read(page * kPage + off, {reinterpret_cast<std::uint8_t*>(words), sizeof(words)}); !s) {
                return s.error();
            }
            for (std::uint64_t w : words) {
                h = (h ^ w) * kFnv64Prime;
                ph = (ph ^ w) * kFnv64Prime;
            }
        }
        if (page < pages.size()) pages[page] = ph;
    }
    return h;
}

Result<std::uint64_t> memory_digest(const GuestMemory& memory) { return memory_digest(memory, {}); }

}  // namespace tandem::engine
