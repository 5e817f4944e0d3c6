// Guest RAM (hypervisor/vm/guest_memory.hpp): chunks of host memory behind guest-physical
// [0, size), bounds-checked accesses across chunk boundaries, and allocation from a fragmented
// frame allocator. Host memory is std::vectors at made-up addresses (vmx_fake_host_memory.hpp).
#include <doctest/doctest.h>

#include <vector>

#include "helpers.hpp"
#include "hypervisor/vm/guest_memory.hpp"
#include "vmx_fake_host_memory.hpp"

using namespace tandem;

namespace {

constexpr std::uint64_t kMiB = 1ull << 20;

void check_error(const Status& s, const char* message, std::uint64_t value) {
    REQUIRE_FALSE(s.ok());
    CHECK(test::message(s.error()) == message);
    CHECK(s.error().value == value);
}

bool all(const test::VectorHostMemory& host, std::uint64_t start, std::uint64_t end, std::uint8_t value) {
    for (std::uint64_t a = start; a < end; ++a) {
        if (host.byte(a) != value) return false;
    }
    return true;
}

// Three 8 KiB chunks, none host-contiguous with the one before.
struct ThreeChunks {
    test::VectorHostMemory host;
    GuestMemory memory{host};
    ThreeChunks() {
        host.add(0x10'0000, 0x2000, 0xee);
        host.add(0x30'0000, 0x2000, 0xee);
        host.add(0x20'0000, 0x2000, 0xee);
        REQUIRE(memory.append(0x10'0000, 0x2000).ok());
        REQUIRE(memory.append(0x30'0000, 0x2000).ok());
        REQUIRE(memory.append(0x20'0000, 0x2000).ok());
    }
};

}  // namespace

TEST_SUITE("guest_memory") {

TEST_CASE("append: host-contiguous chunks merge, others start a new chunk at the end") {
    test::NoHostMemory none;
    GuestMemory m(none);
    CHECK(m.size() == 0);
    CHECK(m.chunks().empty());
    REQUIRE(m.append(0x4000'0000, 2 * kMiB).ok());
    REQUIRE(m.append(0x4020'0000, 4 * kMiB).ok());  // continues the last chunk
    REQUIRE(m.chunks().size() == 1);
    CHECK(m.chunks()[0].size == 6 * kMiB);
    REQUIRE(m.append(0x3fe0'0000, 2 * kMiB).ok());  // ends where the first begins: no merge backwards
    REQUIRE(m.append(0x8000'0000, 0x1000).ok());
    REQUIRE(m.chunks().size() == 3);
    CHECK(m.chunks()[1].gpa == 6 * kMiB);
    CHECK(m.chunks()[1].hpa == 0x3fe0'0000);
    CHECK(m.chunks()[2].gpa == 8 * kMiB);
    CHECK(m.chunks()[2].hpa == 0x8000'0000);
    CHECK(m.size() == 8 * kMiB + 0x1000);

    check_error(m.append(0x9000'0000, 0), "guest memory: chunk is not page-aligned", 0x9000'0000);
    check_error(m.append(0x9000'0800, 0x1000), "guest memory: chunk is not page-aligned", 0x9000'0800);
    check_error(m.append(0x9000'0000, 0x1800), "guest memory: chunk is not page-aligned", 0x9000'0000);
    CHECK(m.size() == 8 * kMiB + 0x1000);

    CHECK(*m.host_address(0) == 0x4000'0000);
    CHECK(*m.host_address(6 * kMiB - 1) == 0x405f'ffff);
    CHECK(*m.host_address(6 * kMiB) == 0x3fe0'0000);
    CHECK(*m.host_address(8 * kMiB + 0xfff) == 0x8000'0fff);
    auto outside = m.host_address(8 * kMiB + 0x1000);
    REQUIRE_FALSE(outside.ok());
    CHECK(test::message(outside.error()) == "guest memory: address outside guest RAM");
    CHECK(outside.error().value == 8 * kMiB + 0x1000);
}

TEST_CASE("append: at most 64 chunks, but a contiguous one still merges") {
    test::NoHostMemory none;
    GuestMemory m(none);
    for (std::uint64_t i = 0; i < GuestMemory::kMaxChunks; ++i)
        REQUIRE(m.append(0x1'0000'0000 + i * 0x10000, 0x1000).ok());
    check_error(m.append(0x2'0000'0000, 0x1000), "guest memory: too many chunks", 64);
    REQUIRE(m.append(0x1'0000'0000 + 63 * 0x10000 + 0x1000, 0x1000).ok());
    CHECK(m.chunks().size() == 64);
    CHECK(m.size() == 65 * 0x1000);
}

TEST_CASE("reads, writes and fills across chunk boundaries") {
    ThreeChunks t;
    std::vector<std::uint8_t> data(0x5000);
    for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i * 13 + 1);
    REQUIRE(t.memory.write(0x800, data).ok());
    CHECK(t.host.byte(0x10'07ff) == 0xee);
    CHECK(t.host.byte(0x10'0800) == data[0]);
    CHECK(t.host.byte(0x10'1fff) == data[0x17ff]);
    CHECK(t.host.byte(0x30'0000) == data[0x1800]);
    CHECK(t.host.byte(0x30'1fff) == data[0x37ff]);
    CHECK(t.host.byte(0x20'0000) == data[0x3800]);
    CHECK(t.host.byte(0x20'17ff) == data[0x4fff]);
    CHECK(t.host.byte(0x20'1800) == 0xee);
    std::vector<std::uint8_t> back(0x5000);
    REQUIRE(t.memory.read(0x800, back).ok());
    CHECK(back == data);

    // A value straddling two chunks.
    REQUIRE(t.memory.store<std::uint64_t>(0x1ffc, 0x1122'3344'5566'7788ull).ok());
    CHECK(t.host.byte(0x10'1ffc) == 0x88);
    CHECK(t.host.byte(0x30'0003) == 0x11);
    CHECK(*t.memory.load<std::uint64_t>(0x1ffc) == 0x1122'3344'5566'7788ull);

    REQUIRE(t.memory.fill(0x1fff, 0x5a, 0x2002).ok());
    CHECK(t.host.byte(0x10'1ffe) == 0x66);  // from the store above, before the fill's first byte
    CHECK(all(t.host, 0x10'1fff, 0x10'2000, 0x5a));
    CHECK(all(t.host, 0x30'0000, 0x30'2000, 0x5a));
    CHECK(t.host.byte(0x20'0000) == 0x5a);
    CHECK(t.host.byte(0x20'0001) == data[0x3801]);
}

TEST_CASE("bounds: nothing outside [0, size) is reached, even partly") {
    ThreeChunks t;
    const std::uint64_t size = t.memory.size();
    REQUIRE(size == 0x6000);
    CHECK(t.memory.contains(0, size));
    CHECK(t.memory.contains(size, 0));
    CHECK(t.memory.contains(size - 1, 1));
    CHECK_FALSE(t.memory.contains(size - 1, 2));
    CHECK_FALSE(t.memory.contains(size + 1, 0));
    CHECK_FALSE(t.memory.contains(1, ~std::uint64_t{0}));
    CHECK_FALSE(t.memory.contains(~std::uint64_t{0}, 2));

    std::vector<std::uint8_t> eight(8, 0x11);
    check_error(t.memory.write(size - 4, eight), "guest memory: access outside guest RAM", size - 4);
    CHECK(all(t.host, 0x20'0000, 0x20'2000, 0xee));  // not even the part that would have fitted
    check_error(t.memory.read(size, eight), "guest memory: access outside guest RAM", size);
    check_error(t.memory.fill(0x10, 0, ~std::uint64_t{0}), "guest memory: access outside guest RAM", 0x10);
    auto far = t.memory.load<std::uint32_t>(0xffff'ffff'ffff'fffe);
    REQUIRE_FALSE(far.ok());
    CHECK(far.error().value == 0xffff'ffff'ffff'fffe);
    CHECK(t.memory.read(size, {}).ok());  // an empty access at the end is fine

    // Backing memory the window cannot reach is an error, not a wild pointer.
    test::VectorHostMemory small(0x50'0000, 0x1000);
    GuestMemory m(small);
    REQUIRE(m.append(0x60'0000, 0x1000).ok());
    check_error(m.read(0x10, eight), "guest memory: backing memory not accessible", 0x60'0010);
}

TEST_CASE("allocate_guest_memory: 2 MiB-aligned chunks from fragmented memory, zeroed") {
    // Free RAM in three ranges with 2 MiB-aligned holes of 2, 6 and 2 MiB; all of it dirty.
    test::VectorHostMemory host;
    host.add(0x10'0000, 0x40'0000, 0xaa);
    host.add(0x100'0000, 0x60'0000, 0xaa);
    host.add(0x210'0000, 0x40'0000, 0xaa);
    FrameAllocator frames;
    for (const auto& r : host.regions()) REQUIRE(frames.add_free({r.base, r.base + r.bytes.size()}).ok());
    GuestMemory memory(host);
    REQUIRE(allocate_guest_memory(frames, 10 * kMiB, memory).ok());
    CHECK(memory.size() == 10 * kMiB);
    // Largest first: 10 MiB fails, 6 MiB fits; then 4 fails and 2 MiB pieces fill the rest.
    REQUIRE(memory.chunks().size() == 3);
    const GuestRamChunk expected[] = {{0, 0x100'0000, 6 * kMiB}, {6 * kMiB, 0x20'0000, 2 * kMiB},
                                      {8 * kMiB, 0x220'0000, 2 * kMiB}};
    for (std::size_t i = 0; i < 3; ++i) {
        CAPTURE(i);
        CHECK(memory.chunks()[i].gpa == expected[i].gpa);
        CHECK(memory.chunks()[i].hpa == expected[i].hpa);
        CHECK(memory.chunks()[i].size == expected[i].size);
        CHECK(memory.chunks()[i].hpa % GuestMemory::kChunkAlignment == 0);
        CHECK(all(host, expected[i].hpa, expected[i].hpa + expected[i].size, 0));
    }
    // Only the guest's frames were cleared.
    CHECK(all(host, 0x10'0000, 0x20'0000, 0xaa));
    CHECK(all(host, 0x40'0000, 0x50'0000, 0xaa));
    CHECK(all(host, 0x210'0000, 0x220'0000, 0xaa));
    CHECK(all(host, 0x240'0000, 0x250'0000, 0xaa));
    CHECK(frames.free_bytes() == 4 * kMiB);

    // Nothing 2 MiB-aligned is left: the error says how much is still missing.
    check_error(allocate_guest_memory(frames, 2 * kMiB, memory),
                "guest memory: not enough free RAM; bytes still needed", 2 * kMiB);
}

TEST_CASE("allocate_guest_memory: partial success, appending, merging, bad sizes") {
    test::VectorHostMemory host(0x100'0000, 0x80'0000, 0xaa);
    FrameAllocator frames;
    REQUIRE(frames.add_free({0x100'0000, 0x180'0000}).ok());
    GuestMemory memory(host);
    check_error(allocate_guest_memory(frames, 0, memory), "guest memory: size must be a non-zero multiple of 2 MiB", 0);
    check_error(allocate_guest_memory(frames, 3 * kMiB, memory),
                "guest memory: size must be a non-zero multiple of 2 MiB", 3 * kMiB);
    CHECK(memory.size() == 0);

    REQUIRE(allocate_guest_memory(frames, 2 * kMiB, memory).ok());
    REQUIRE(memory.store<std::uint32_t>(0x1000, 0xfeedface).ok());
    REQUIRE(allocate_guest_memory(frames, 4 * kMiB, memory).ok());
    CHECK(*memory.load<std::uint32_t>(0x1000) == 0xfeedface);  // the earlier part is not cleared again
    CHECK(memory.chunks().size() == 1);                        // first fit hands out adjacent frames
    CHECK(memory.size() == 6 * kMiB);
    CHECK(all(host, 0x120'0000, 0x160'0000, 0));

    check_error(allocate_guest_memory(frames, 4 * kMiB, memory),
                "guest memory: not enough free RAM; bytes still needed", 2 * kMiB);
    CHECK(memory.size() == 8 * kMiB);  // what was found is kept
}

}  // TEST_SUITE
