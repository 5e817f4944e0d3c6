#include "hypervisor/memory/frame_allocator.hpp"

namespace tandem {

Result<std::uint64_t> FrameAllocator::allocate(std::uint64_t size, std::uint64_t align, std::uint64_t limit) {
    if (size == 0) return Error::of("frame allocator: zero-sized allocation");
    if (align < kPageSize || (align & (align - 1)) != 0) {
        return Error::of("frame allocator: alignment must be a power of two of at least a page", align);
    }
    size = align_up(size, kPageSize);
    for (const PhysRange& r : free_.ranges()) {
        std::uint64_t start = align_up(r.start, align);
        if (start < r.start || start >= r.end || r.end - start < size) continue;
        std::uint64_t end = start + size;
        if (end > limit) break;  // ranges are sorted: nothing further lies below the limit either
        if (auto s = free_.remove({start, end}); !s) return s.error();
        return start;
    }
    return Error::of("frame allocator: out of memory for a request of this many bytes", size);
}

Status FrameAllocator::release(std::uint64_t start, std::uint64_t size) {
    if (start % kPageSize != 0 || size == 0) return Error::of("frame allocator: release of a misaligned range", start);
    std::uint64_t rounded = align_up(size, kPageSize);
    if (rounded < size || start + rounded < start) return Error::of("frame allocator: release wraps around", start);
    PhysRange r{start, start + rounded};
    if (free_.overlaps(r)) return Error::of("frame allocator: release of memory that is already free", start);
    return free_.add(r);
}

}  // namespace tandem
