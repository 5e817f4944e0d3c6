// Physical frame allocator and page range sets (hypervisor/memory/frame_allocator.hpp,
// page_range_set.hpp), including a randomized comparison against a page-set model.
#include <doctest/doctest.h>

#include <algorithm>
#include <memory>
#include <random>
#include <set>
#include <vector>

#include "helpers.hpp"
#include "hypervisor/memory/frame_allocator.hpp"

using namespace tandem;

namespace {

constexpr std::uint64_t kMiB = 1ull << 20;

// Ranges as (start, end) pairs, which compare and print in test failures.
using Ranges = std::vector<std::pair<std::uint64_t, std::uint64_t>>;

Ranges ranges_of(const FrameAllocator& a) {
    Ranges out;
    for (const PhysRange& r : a.free_ranges()) out.emplace_back(r.start, r.end);
    return out;
}

std::unique_ptr<FrameAllocator> allocator_with(std::initializer_list<PhysRange> free) {
    auto a = std::make_unique<FrameAllocator>();
    for (const PhysRange& r : free) REQUIRE(a->add_free(r).ok());
    return a;
}

}  // namespace

namespace doctest {
template <>
struct StringMaker<Ranges> {
    static String convert(const Ranges& rs) {
        std::string s;
        for (const auto& [start, end] : rs) s += test::format("[{}, {}) ", hex(start), hex(end));
        return s.c_str();
    }
};
}  // namespace doctest

TEST_SUITE("frame_allocator") {

TEST_CASE("alignment helpers saturate instead of wrapping") {
    CHECK(align_up(0x1001, 0x1000) == 0x2000);
    CHECK(align_up(0x1000, 0x1000) == 0x1000);
    CHECK(align_down(0x1fff, 0x1000) == 0x1000);
    CHECK(align_up(~std::uint64_t{0} - 5, 0x1000) == 0xfffffffffffff000);
    CHECK(align_up(0x200001, 2 * kMiB) == 4 * kMiB);
}

TEST_CASE("adding ranges: inward alignment, sorting, merging of touching and overlapping ranges") {
    auto a = allocator_with({{0x1001, 0x3fff}});
    CHECK(ranges_of(*a) == Ranges{{0x2000, 0x3000}});
    CHECK(a->add_free({0x5001, 0x5fff}).ok());  // no whole page inside: nothing added
    CHECK(a->add_free({0x9000, 0x9000}).ok());
    CHECK(a->add_free({0x9000, 0x8000}).ok());
    CHECK(ranges_of(*a) == Ranges{{0x2000, 0x3000}});

    a = allocator_with({{0x10000, 0x20000}, {0x1000, 0x3000}, {0x40000, 0x50000}});
    CHECK(ranges_of(*a) == (Ranges{{0x1000, 0x3000}, {0x10000, 0x20000}, {0x40000, 0x50000}}));
    REQUIRE(a->add_free({0x3000, 0x5000}).ok());  // touches the first
    REQUIRE(a->add_free({0xf000, 0x10000}).ok());  // touches the second from below
    CHECK(ranges_of(*a) == (Ranges{{0x1000, 0x5000}, {0xf000, 0x20000}, {0x40000, 0x50000}}));
    REQUIRE(a->add_free({0x12000, 0x13000}).ok());  // inside: no change
    CHECK(ranges_of(*a) == (Ranges{{0x1000, 0x5000}, {0xf000, 0x20000}, {0x40000, 0x50000}}));
    REQUIRE(a->add_free({0x4000, 0x41000}).ok());  // bridges all three
    CHECK(ranges_of(*a) == Ranges{{0x1000, 0x50000}});
    CHECK(a->free_bytes() == 0x4f000);
}

TEST_CASE("excluding ranges: outward alignment and splits") {
    auto a = allocator_with({{0x1000, 0x5000}});
    REQUIRE(a->exclude({0x2001, 0x2002}).ok());  // one byte removes its whole page
    CHECK(ranges_of(*a) == (Ranges{{0x1000, 0x2000}, {0x3000, 0x5000}}));
    REQUIRE(a->exclude({0x0, 0x1000}).ok());  // not free: no change
    REQUIRE(a->exclude({0x4000, 0x4000}).ok());  // empty
    CHECK(a->free_bytes() == 0x3000);
    REQUIRE(a->exclude({0x1fff, 0x3001}).ok());  // spans the end of one range and the start of the next
    CHECK(ranges_of(*a) == Ranges{{0x4000, 0x5000}});
    REQUIRE(a->exclude({0, ~std::uint64_t{0}}).ok());
    CHECK(ranges_of(*a).empty());
    CHECK(a->free_bytes() == 0);
}

TEST_CASE("boot exclusions: first MiB, image, loader block and modules (GRUB fixture layout)") {
    auto a = allocator_with({{0x0, 0x9f000}, {0x100000, 0xfff0000}});
    REQUIRE(a->exclude({0, kMiB}).ok());
    REQUIRE(a->exclude({0x200000, 0x225000}).ok());  // image text .. data end
    REQUIRE(a->exclude({0x168058, 0x168058 + 1856}).ok());  // multiboot2 block
    REQUIRE(a->exclude({0x169000, 0x16a388}).ok());  // kernel module
    REQUIRE(a->exclude({0x16b000, 0x189241}).ok());  // initrd module
    CHECK(ranges_of(*a) == (Ranges{{0x100000, 0x168000}, {0x18a000, 0x200000}, {0x225000, 0xfff0000}}));
    CHECK(a->free_bytes() == 0x68000 + 0x76000 + (0xfff0000 - 0x225000));

    // The first allocations come from just above the first MiB, 2 MiB-aligned ones skip ahead.
    auto page = a->allocate(1);
    REQUIRE(page.ok());
    CHECK(*page == 0x100000);
    auto large = a->allocate(2 * kMiB, 2 * kMiB);
    REQUIRE(large.ok());
    CHECK(*large == 0x400000);  // 0x200000 is the image
    CHECK(ranges_of(*a) ==
          (Ranges{{0x101000, 0x168000}, {0x18a000, 0x200000}, {0x225000, 0x400000}, {0x600000, 0xfff0000}}));
}

TEST_CASE("allocate: sizes, alignment, limit, refusals") {
    auto a = allocator_with({{0x3000, 0x10000}, {0x200000, 0x600000}});
    auto r = a->allocate(0x1800);  // rounded up to two pages
    REQUIRE(r.ok());
    CHECK(*r == 0x3000);
    r = a->allocate(0x1000, 0x4000);
    REQUIRE(r.ok());
    CHECK(*r == 0x8000);
    CHECK(ranges_of(*a) == (Ranges{{0x5000, 0x8000}, {0x9000, 0x10000}, {0x200000, 0x600000}}));
    r = a->allocate(0x8000);  // too big for the low ranges: first fit moves on
    REQUIRE(r.ok());
    CHECK(*r == 0x200000);
    r = a->allocate(0x1000, 2 * kMiB);
    REQUIRE(r.ok());
    CHECK(*r == 0x400000);

    r = a->allocate(0x3000, 0x1000, 0x8000);  // [0x5000, 0x8000) ends exactly at the limit
    REQUIRE(r.ok());
    CHECK(*r == 0x5000);
    r = a->allocate(0x8000, 0x1000, 0x200000);  // fits only above the limit
    REQUIRE_FALSE(r.ok());
    CHECK(test::message(r.error()) == "frame allocator: out of memory for a request of this many bytes");
    CHECK(r.error().value == 0x8000);

    std::uint64_t before = a->free_bytes();
    for (std::uint64_t bad_align : {0ull, 1ull, 0x800ull, 0x3000ull, 0x1001ull}) {
        auto e = a->allocate(0x1000, bad_align);
        REQUIRE_FALSE(e.ok());
        CHECK(test::message(e.error()) == "frame allocator: alignment must be a power of two of at least a page");
        CHECK(e.error().value == bad_align);
    }
    auto zero = a->allocate(0);
    REQUIRE_FALSE(zero.ok());
    CHECK(test::message(zero.error()) == "frame allocator: zero-sized allocation");
    auto huge = a->allocate(~std::uint64_t{0});
    REQUIRE_FALSE(huge.ok());
    CHECK(a->free_bytes() == before);  // refusals change nothing
}

TEST_CASE("exhaustion, release, double release") {
    auto a = allocator_with({{0x10000, 0x14000}});
    std::vector<std::uint64_t> pages;
    for (int i = 0; i < 4; ++i) {
        auto p = a->allocate(0x1000);
        REQUIRE(p.ok());
        pages.push_back(*p);
    }
    CHECK(pages == std::vector<std::uint64_t>{0x10000, 0x11000, 0x12000, 0x13000});
    CHECK(a->free_bytes() == 0);
    auto none = a->allocate(0x1000);
    REQUIRE_FALSE(none.ok());
    CHECK(none.error().value == 0x1000);

    REQUIRE(a->release(0x11000, 0x1000).ok());
    REQUIRE(a->release(0x12000, 1).ok());  // sizes round up like allocate's
    CHECK(ranges_of(*a) == Ranges{{0x11000, 0x13000}});
    CHECK(a->free_bytes() == 0x2000);

    auto twice = a->release(0x11000, 0x1000);
    REQUIRE_FALSE(twice.ok());
    CHECK(test::message(twice.error()) == "frame allocator: release of memory that is already free");
    CHECK(twice.error().value == 0x11000);
    CHECK_FALSE(a->release(0x10000, 0x2000).ok());  // partly free
    CHECK(ranges_of(*a) == Ranges{{0x11000, 0x13000}});

    auto misaligned = a->release(0x13800, 0x800);
    REQUIRE_FALSE(misaligned.ok());
    CHECK(test::message(misaligned.error()) == "frame allocator: release of a misaligned range");
    CHECK(misaligned.error().value == 0x13800);
    CHECK_FALSE(a->release(0x13000, 0).ok());
    CHECK(a->free_bytes() == 0x2000);
}

TEST_CASE("capacity: 256 disjoint ranges fit, the 257th does not") {
    auto a = std::make_unique<FrameAllocator>();
    for (std::uint64_t i = 0; i < FrameAllocator::kMaxRanges; ++i) {
        REQUIRE(a->add_free({i * 0x10000, i * 0x10000 + 0x4000}).ok());
    }
    CHECK(a->free_ranges().size() == 256);
    Status s = a->add_free({0x10000000, 0x10001000});
    REQUIRE_FALSE(s.ok());
    CHECK(test::message(s.error()) == "physical range table is full");
    CHECK(s.error().value == 256);
    CHECK(a->free_ranges().size() == 256);
    CHECK(a->free_bytes() == 256 * 0x4000);
    CHECK_FALSE(a->exclude({0x1000, 0x2000}).ok());  // a split needs a slot
}

// Regression test (bug found and fixed): page_range_set.hpp:59-60 remove() shortens the range (r.end = x.start) before
// insert_at() of the right part fails on a full table, so the failed exclude() still drops
// [x.end, old r.end) from the set: free_bytes() falls from 0x400000 to 0x3fd000 (expected
// unchanged, the error is returned). The same happens when allocate() needs a split.
TEST_CASE("a refused split leaves the set unchanged") {
    auto a = std::make_unique<FrameAllocator>();
    for (std::uint64_t i = 0; i < FrameAllocator::kMaxRanges; ++i) {
        REQUIRE(a->add_free({i * 0x10000, i * 0x10000 + 0x4000}).ok());
    }
    CHECK_FALSE(a->exclude({0x1000, 0x2000}).ok());
    CHECK(a->free_bytes() == 256 * 0x4000);
    CHECK(a->free_ranges()[0].end == 0x4000);
}

// Regression test (bug found and fixed): page_range_set.hpp:39 add() calls insert_at() before merging, so on a full table
// (256 ranges) it fails even when the new range touches an existing one and would need no new
// slot. Consequence: FrameAllocator::release() of a block just allocate()d from the start of a
// range fails with "physical range table is full" and the memory is lost for good.
TEST_CASE("releasing an allocation on a full table merges back") {
    auto a = std::make_unique<FrameAllocator>();
    for (std::uint64_t i = 0; i < FrameAllocator::kMaxRanges; ++i) {
        REQUIRE(a->add_free({i * 0x10000, i * 0x10000 + 0x4000}).ok());
    }
    auto p = a->allocate(0x1000);
    REQUIRE(p.ok());
    CHECK(*p == 0);
    CHECK(a->release(*p, 0x1000).ok());
    CHECK(a->free_bytes() == 256 * 0x4000);
}

// Regression test (bug found and fixed): frame_allocator.cpp:24 computes start + align_up(size) without an overflow check, so
// release(0x1000, ~0) builds the wrapped range [0x1000, 0x0), which is empty: the overlap check
// and add() both pass and release() returns success having done nothing. Expected: refused
// like the other malformed releases.
TEST_CASE("a release that wraps around the address space is refused") {
    auto a = allocator_with({{0x10000, 0x20000}});
    CHECK_FALSE(a->release(0x1000, ~std::uint64_t{0}).ok());
    CHECK_FALSE(a->release(0xfffffffffffff000, 0x2000).ok());
    CHECK(a->free_bytes() == 0x10000);
}

TEST_CASE("randomized: allocate and release against a page-set model") {
    constexpr std::uint64_t kLow = 1 * kMiB, kHigh = 9 * kMiB;  // range starts: 2048 pages
    std::mt19937_64 rng(0x7a4d3e);
    auto random_address = [&] { return kLow + rng() % (kHigh - kLow); };
    auto a = std::make_unique<FrameAllocator>();
    std::set<std::uint64_t> free_pages, excluded;

    // Free memory with unaligned edges, then holes with unaligned edges.
    for (int i = 0; i < 6; ++i) {
        std::uint64_t s = random_address(), e = s + rng() % (2 * kMiB);
        REQUIRE(a->add_free({s, e}).ok());
        for (std::uint64_t p = align_up(s, kPageSize); p + kPageSize <= e; p += kPageSize) free_pages.insert(p);
    }
    for (int i = 0; i < 8; ++i) {
        std::uint64_t s = random_address(), e = s + rng() % (256 * 1024);
        REQUIRE(a->exclude({s, e}).ok());
        for (std::uint64_t p = align_down(s, kPageSize); p < e; p += kPageSize) {
            free_pages.erase(p);
            excluded.insert(p);
        }
    }
    REQUIRE(free_pages.size() > 200);

    auto check_same = [&] {
        auto it = free_pages.begin();
        std::uint64_t previous_end = 0;
        for (const PhysRange& r : a->free_ranges()) {
            REQUIRE(r.start % kPageSize == 0);
            REQUIRE(r.end % kPageSize == 0);
            REQUIRE(r.start > previous_end);  // sorted, disjoint, and never merely touching
            previous_end = r.end;
            for (std::uint64_t p = r.start; p < r.end; p += kPageSize, ++it) {
                REQUIRE(it != free_pages.end());
                REQUIRE(*it == p);
            }
        }
        REQUIRE(it == free_pages.end());
        REQUIRE(a->free_bytes() == free_pages.size() * kPageSize);
    };
    // The model's first fit: the lowest aligned address whose pages are all free, below limit.
    auto model_first_fit = [&](std::uint64_t pages, std::uint64_t align, std::uint64_t limit) -> std::uint64_t {
        std::uint64_t top = free_pages.empty() ? 0 : *free_pages.rbegin() + kPageSize;
        for (std::uint64_t at = align_up(kLow, align); at + pages * kPageSize <= std::min(limit, top); at += align) {
            bool all = true;
            for (std::uint64_t k = 0; k < pages && all; ++k) all = free_pages.count(at + k * kPageSize) != 0;
            if (all) return at;
        }
        return 0;
    };

    struct Block {
        std::uint64_t start, size;
    };
    std::vector<Block> live;
    std::set<std::uint64_t> allocated;
    const std::uint64_t aligns[] = {kPageSize, 2 * kPageSize, 64 * 1024, 2 * kMiB};
    int allocations = 0, refusals = 0;
    for (int op = 0; op < 2000; ++op) {
        CAPTURE(op);
        if (live.size() > 40 || (!live.empty() && rng() % 3 == 0)) {
            std::size_t i = rng() % live.size();
            Block b = live[i];
            REQUIRE(a->release(b.start, b.size).ok());
            CHECK_FALSE(a->release(b.start, b.size).ok());  // a second release is refused
            for (std::uint64_t p = b.start; p < b.start + b.size; p += kPageSize) {
                free_pages.insert(p);
                allocated.erase(p);
            }
            live.erase(live.begin() + static_cast<std::ptrdiff_t>(i));
        } else {
            std::uint64_t bytes = 1 + rng() % (48 * kPageSize);
            std::uint64_t align = aligns[rng() % 4];
            std::uint64_t limit = rng() % 4 == 0 ? random_address() : ~std::uint64_t{0};
            std::uint64_t pages = align_up(bytes, kPageSize) / kPageSize;
            std::uint64_t expected = model_first_fit(pages, align, limit);
            auto r = a->allocate(bytes, align, limit);
            if (expected == 0) {
                REQUIRE_FALSE(r.ok());
                ++refusals;
            } else {
                REQUIRE(r.ok());
                REQUIRE(*r == expected);
                REQUIRE(*r % align == 0);
                REQUIRE(*r + pages * kPageSize <= limit);
                for (std::uint64_t p = *r; p < *r + pages * kPageSize; p += kPageSize) {
                    REQUIRE(excluded.count(p) == 0);
                    REQUIRE(allocated.insert(p).second);  // never handed out twice
                    free_pages.erase(p);
                }
                live.push_back({*r, pages * kPageSize});
                ++allocations;
            }
        }
        check_same();
    }
    CHECK(allocations > 500);
    CHECK(refusals > 10);
}

}  // TEST_SUITE
