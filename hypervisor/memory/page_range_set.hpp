// A set of physical addresses kept as sorted, disjoint, page-aligned [start, end) ranges, with
// a fixed capacity (no allocation). The frame allocator is one; the host address-space plan
// uses another to merge the loader's memory map and cut holes in it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "hypervisor/util/result.hpp"

namespace tandem {

inline constexpr std::uint64_t kPageSize = 4096;

struct PhysRange {
    std::uint64_t start;
    std::uint64_t end;  // exclusive
    constexpr std::uint64_t size() const { return end - start; }
    constexpr bool empty() const { return end <= start; }
};

constexpr std::uint64_t align_down(std::uint64_t v, std::uint64_t a) { return v & ~(a - 1); }
// Saturates instead of wrapping, so a range ending near 2^64 cannot become tiny.
constexpr std::uint64_t align_up(std::uint64_t v, std::uint64_t a) {
    return v > ~std::uint64_t{0} - (a - 1) ? align_down(~std::uint64_t{0}, a) : align_down(v + a - 1, a);
}

template <std::size_t Capacity>
class PageRangeSet {
public:
    // Adds [start, end) shrunk inwards to page boundaries; overlapping or touching ranges merge.
    // Fails only when the table is full.
    Status add(PhysRange range) {
        PhysRange r{align_up(range.start, kPageSize), align_down(range.end, kPageSize)};
        if (r.empty()) return success();
        std::size_t i = 0;
        while (i < count_ && ranges_[i].start < r.start) ++i;
        // Touching or overlapping a neighbour: grow it in place (no new slot needed, so this
        // works on a full table too), then merge whatever else now touches.
        if (i > 0 && ranges_[i - 1].end >= r.start) {
            if (r.end > ranges_[i - 1].end) ranges_[i - 1].end = r.end;
            merge_around(i - 1);
            return success();
        }
        if (i < count_ && ranges_[i].start <= r.end) {
            ranges_[i].start = r.start;
            if (r.end > ranges_[i].end) ranges_[i].end = r.end;
            merge_around(i);
            return success();
        }
        return insert_at(i, r);
    }

    // Removes [start, end) grown outwards to page boundaries (it may split a range). Fails only
    // when a split would overflow the table.
    Status remove(PhysRange range) {
        PhysRange x{align_down(range.start, kPageSize), align_up(range.end, kPageSize)};
        if (x.empty()) return success();
        for (std::size_t i = 0; i < count_;) {
            PhysRange& r = ranges_[i];
            if (r.end <= x.start || r.start >= x.end) {
                ++i;
                continue;
            }
            bool keep_left = r.start < x.start;
            bool keep_right = r.end > x.end;
            if (keep_left && keep_right) {
                // x lies inside this one range (nothing else overlaps). Check for room before
                // changing anything, so a refused split leaves the set as it was.
                if (count_ == Capacity) return Error::of("physical range table is full", Capacity);
                PhysRange right{x.end, r.end};
                r.end = x.start;
                return insert_at(i + 1, right);
            }
            if (keep_left) {
                r.end = x.start;
                ++i;
            } else if (keep_right) {
                r.start = x.end;
                ++i;
            } else {
                erase_at(i);
            }
        }
        return success();
    }

    bool overlaps(PhysRange x) const {
        for (std::size_t i = 0; i < count_; ++i) {
            if (ranges_[i].start < x.end && x.start < ranges_[i].end) return true;
        }
        return false;
    }

    std::uint64_t total_bytes() const {
        std::uint64_t total = 0;
        for (std::size_t i = 0; i < count_; ++i) total += ranges_[i].size();
        return total;
    }

    std::span<const PhysRange> ranges() const { return {ranges_, count_}; }

private:
    Status insert_at(std::size_t index, PhysRange range) {
        if (count_ == Capacity) return Error::of("physical range table is full", Capacity);
        for (std::size_t i = count_; i > index; --i) ranges_[i] = ranges_[i - 1];
        ranges_[index] = range;
        ++count_;
        return success();
    }

    void erase_at(std::size_t index) {
        for (std::size_t i = index; i + 1 < count_; ++i) ranges_[i] = ranges_[i + 1];
        --count_;
    }

    void merge_around(std::size_t index) {
        while (index + 1 < count_ && ranges_[index + 1].start <= ranges_[index].end) {
            if (ranges_[index + 1].end > ranges_[index].end) ranges_[index].end = ranges_[index + 1].end;
            erase_at(index + 1);
        }
        if (index > 0 && ranges_[index - 1].end >= ranges_[index].start) {
            if (ranges_[index].end > ranges_[index - 1].end) ranges_[index - 1].end = ranges_[index].end;
            erase_at(index);
        }
    }

    PhysRange ranges_[Capacity]{};
    std::size_t count_ = 0;
};

}  // namespace tandem
