// Physical frame allocator: first fit over a PageRangeSet of free memory. It starts from the
// loader's usable RAM, minus everything that must never be handed out: the first megabyte
// (firmware data, later the AP start-up page), the image, the loader's information block and
// every module.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "hypervisor/memory/page_range_set.hpp"

namespace tandem {

class FrameAllocator {
public:
    static constexpr std::size_t kMaxRanges = 256;

    Status add_free(PhysRange range) { return free_.add(range); }
    Status exclude(PhysRange range) { return free_.remove(range); }
    // First fit: `size` bytes (rounded up to pages) aligned to `align` (a power of two, at least
    // a page), wholly below `limit`. The memory is not cleared.
    Result<std::uint64_t> allocate(std::uint64_t size, std::uint64_t align = kPageSize,
                                   std::uint64_t limit = ~std::uint64_t{0});
    // Returns a range obtained from allocate(). Freeing memory that is already free is refused.
    Status release(std::uint64_t start, std::uint64_t size);

    std::uint64_t free_bytes() const { return free_.total_bytes(); }
    std::span<const PhysRange> free_ranges() const { return free_.ranges(); }

private:
    PageRangeSet<kMaxRanges> free_;
};

}  // namespace tandem
