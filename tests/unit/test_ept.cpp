// EPT built over guest RAM (arch-x86_64/vmx/ept.hpp, paging/four_level_tables.hpp) into a fake
// table memory that checks every store against the EPT format (vmx_fake_ept_memory.hpp). The
// isolation property is checked by walking every leaf: guest RAM, and nothing else of the host,
// is reachable from the guest.
#include <doctest/doctest.h>

#include <algorithm>
#include <vector>

#include "arch-x86_64/vmx/ept.hpp"
#include "helpers.hpp"
#include "hypervisor/vm/guest_memory.hpp"
#include "vmx_fake_ept_memory.hpp"
#include "vmx_fake_host_memory.hpp"

using namespace tandem;
using namespace tandem::x86;
using test::RecordingEptMemory;

namespace {

using Ept = EptBuilder<RecordingEptMemory>;
using EptLeaf = Ept::LeafMapping;
constexpr std::uint64_t kMiB = 1ull << 20;

std::vector<EptLeaf> leaves(const Ept& ept) {
    std::vector<EptLeaf> out;
    ept.for_each_leaf([&](const EptLeaf& l) { out.push_back(l); });
    return out;
}

void map_chunks(Ept& ept, const GuestMemory& memory) {
    REQUIRE(ept.create_root().ok());
    for (const GuestRamChunk& c : memory.chunks()) REQUIRE(ept.map(c.gpa, c.hpa, c.size, kGuestRam).ok());
}

// Three chunks: both sides 2 MiB-aligned; guest side aligned but host side not; neither side
// aligned at first, both aligned after 510 pages.
void three_chunks(GuestMemory& memory) {
    REQUIRE(memory.append(0x4000'0000, 6 * kMiB).ok());
    REQUIRE(memory.append(0x8010'1000, 2 * kMiB + 0x2000).ok());
    REQUIRE(memory.append(0x9000'2000, 4 * kMiB).ok());
    REQUIRE(memory.chunks().size() == 3);
}

struct HostRange {
    std::uint64_t start, end;
};

// Host ranges sorted and merged where they touch.
std::vector<HostRange> merged(std::vector<HostRange> r) {
    std::sort(r.begin(), r.end(), [](const HostRange& a, const HostRange& b) { return a.start < b.start; });
    std::vector<HostRange> out;
    for (const HostRange& x : r) {
        if (!out.empty() && out.back().end >= x.start) {
            out.back().end = std::max(out.back().end, x.end);
        } else {
            out.push_back(x);
        }
    }
    return out;
}

// The isolation property: leaves cover guest-physical [0, size) exactly, each leaf translates
// inside the one chunk that backs its guest range, and the host memory reachable is the union
// of the chunks, no more.
void check_exactly_guest_ram(const Ept& ept, const RecordingEptMemory& tables, const GuestMemory& memory) {
    std::uint64_t expected_gpa = 0;
    std::vector<HostRange> reachable, chunks;
    for (const EptLeaf& l : leaves(ept)) {
        CAPTURE(l.virt);
        CHECK(l.virt == expected_gpa);  // ascending, no gaps, no overlaps
        expected_gpa = l.virt + l.size;
        const GuestRamChunk* owner = nullptr;
        for (const GuestRamChunk& c : memory.chunks()) {
            if (l.virt >= c.gpa && l.virt + l.size <= c.gpa + c.size) owner = &c;
        }
        REQUIRE(owner != nullptr);
        CHECK(l.entry.address() == owner->hpa + (l.virt - owner->gpa));
        for (std::uint64_t page = l.entry.address(); page < l.entry.address() + l.size; page += 0x1000) {
            CHECK_FALSE(tables.is_table(page));  // the EPT itself is never guest memory
        }
        reachable.push_back({l.entry.address(), l.entry.address() + l.size});
    }
    CHECK(expected_gpa == memory.size());
    for (const GuestRamChunk& c : memory.chunks()) chunks.push_back({c.hpa, c.hpa + c.size});
    auto a = merged(reachable), b = merged(chunks);
    REQUIRE(a.size() == b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
        CHECK(a[i].start == b[i].start);
        CHECK(a[i].end == b[i].end);
    }
}

void check_error(const Status& s, const char* message, std::uint64_t value) {
    REQUIRE_FALSE(s.ok());
    CHECK(test::message(s.error()) == message);
    CHECK(s.error().value == value);
}

}  // namespace

TEST_SUITE("ept") {

TEST_CASE("guest RAM chunks: 2 MiB leaves where both sides are aligned, 4 KiB elsewhere, RWX write-back") {
    test::NoHostMemory none;
    GuestMemory memory(none);
    three_chunks(memory);
    RecordingEptMemory tables;
    Ept ept(tables);
    map_chunks(ept, memory);

    auto ls = leaves(ept);
    REQUIRE(ls.size() == 3 + 514 + (510 + 1 + 2));
    std::vector<std::uint64_t> large;
    for (const EptLeaf& l : ls) {
        CAPTURE(l.virt);
        CHECK(l.entry.readable());
        CHECK(l.entry.writable());
        CHECK(l.entry.executable());
        CHECK(l.entry.memory_type() == EptMemoryType::write_back);
        CHECK((l.entry.raw & EptEntry::kIgnorePat) == 0);  // the guest's PAT still combines
        CHECK_FALSE(l.entry.accessed());
        CHECK_FALSE(l.entry.dirty());
        CHECK(l.entry.large() == (l.size == 2 * kMiB));
        if (l.entry.large()) large.push_back(l.virt);
    }
    CHECK(large == std::vector<std::uint64_t>{0, 2 * kMiB, 4 * kMiB, 0xa0'0000});
    CHECK(ept.translate(0xa0'0000)->entry.address() == 0x9020'0000);
    // Root, one PDPT, one PD, and page tables for [6, 8), [8, 10) and [12, 14) MiB.
    CHECK(tables.table_count() == 3 + 3);
    // Every store is one link or one leaf: nothing is written twice.
    CHECK(tables.stores().size() == (tables.table_count() - 1) + ls.size());
}

TEST_CASE("translate() finds the leaf and its size; unmapped addresses have none") {
    test::NoHostMemory none;
    GuestMemory memory(none);
    three_chunks(memory);
    RecordingEptMemory tables;
    Ept ept(tables);
    map_chunks(ept, memory);

    auto big = ept.translate(0x12'3456);
    REQUIRE(big.has_value());
    CHECK(big->virt == 0);
    CHECK(big->size == 2 * kMiB);
    CHECK(big->entry.address() == 0x4000'0000);
    auto small = ept.translate(6 * kMiB + 0x5123);
    REQUIRE(small.has_value());
    CHECK(small->virt == 6 * kMiB + 0x5000);
    CHECK(small->size == 0x1000);
    CHECK(small->entry.address() == 0x8010'6000);
    auto last = ept.translate(memory.size() - 1);
    REQUIRE(last.has_value());
    CHECK(last->entry.address() == 0x9000'2000 + 4 * kMiB - 0x1000);

    CHECK_FALSE(ept.translate(memory.size()).has_value());
    CHECK_FALSE(ept.translate(0x1'0000'0000).has_value());
    CHECK_FALSE(ept.translate(0x7fff'ffff'f000).has_value());
    CHECK_FALSE(ept.translate(0x4000'0000).has_value());  // a host address is not a guest address
}

TEST_CASE("isolation: the leaves cover exactly the guest's chunks") {
    test::NoHostMemory none;
    GuestMemory memory(none);
    three_chunks(memory);
    RecordingEptMemory tables;
    Ept ept(tables);
    map_chunks(ept, memory);
    check_exactly_guest_ram(ept, tables, memory);
}

TEST_CASE("isolation: guest memory from a fragmented allocator never maps the hypervisor's memory") {
    // Free RAM as GRUB reported it in Bochs, minus tandem's image and boot data (0x200000 -
    // 0x400000) and the allocator's own earlier allocations.
    test::VectorHostMemory host;
    host.add(0x100000, 0x1700000, 0xa5);
    FrameAllocator frames;
    REQUIRE(frames.add_free({0x100000, 0x1800000}).ok());
    REQUIRE(frames.exclude({0x200000, 0x400000}).ok());
    REQUIRE(frames.exclude({0x900000, 0xa00000}).ok());  // e.g. the VMCS and bitmaps
    GuestMemory memory(host);
    REQUIRE(allocate_guest_memory(frames, 16 * kMiB, memory).ok());
    REQUIRE(memory.chunks().size() == 3);

    RecordingEptMemory tables;
    Ept ept(tables);
    map_chunks(ept, memory);
    check_exactly_guest_ram(ept, tables, memory);
    for (const EptLeaf& l : leaves(ept)) {
        std::uint64_t hpa = l.entry.address();
        CHECK_FALSE((hpa < 0x400000 && hpa + l.size > 0x200000));
        CHECK_FALSE((hpa < 0xa00000 && hpa + l.size > 0x900000));
        CHECK(hpa >= 0x100000);
        CHECK(hpa + l.size <= 0x1800000);
    }
}

TEST_CASE("permissions: write without read and no access are refused before anything is stored") {
    RecordingEptMemory tables;
    Ept ept(tables);
    REQUIRE(ept.create_root().ok());
    check_error(ept.map(0x200000, 0x4000'0000, 0x1000, EptPermissions{false, true, true}),
                "ept: write permission without read", 0x200000);
    check_error(ept.map(0x200000, 0x4000'0000, 0x1000, EptPermissions{false, true, false}),
                "ept: write permission without read", 0x200000);
    check_error(ept.map(0x0, 0x4000'0000, 0x1000, EptPermissions{false, false, false}), "ept: mapping with no access",
                0);
    CHECK(tables.stores().empty());
    CHECK(leaves(ept).empty());

    // Read-only and execute-only are valid EPT leaves; so is an uncacheable memory type.
    REQUIRE(ept.map(0x0, 0x4000'0000, 0x1000, EptPermissions{true, false, false}).ok());
    REQUIRE(ept.map(0x1000, 0x4000'1000, 0x1000, EptPermissions{false, false, true}).ok());
    REQUIRE(ept.map(0x2000, 0xfec0'0000, 0x1000, EptPermissions{true, true, false, EptMemoryType::uncacheable}).ok());
    auto ls = leaves(ept);
    REQUIRE(ls.size() == 3);
    CHECK(ls[0].entry.raw == (0x4000'0000 | EptEntry::kRead | (6u << 3)));
    CHECK(ls[1].entry.raw == (0x4000'1000 | EptEntry::kExecute | (6u << 3)));
    CHECK(ls[2].entry.raw == (0xfec0'0000 | EptEntry::kRead | EptEntry::kWrite));
    CHECK(ls[2].entry.memory_type() == EptMemoryType::uncacheable);
}

TEST_CASE("mapping errors: alignment, range limits, double mapping, out of table memory") {
    RecordingEptMemory tables(4);
    Ept ept(tables);
    REQUIRE(ept.create_root().ok());
    check_error(ept.map(0x1800, 0x4000'0000, 0x1000, kGuestRam), "paging: mapping is not page-aligned", 0x1800);
    check_error(ept.map(0x1000, 0x4000'0800, 0x1000, kGuestRam), "paging: mapping is not page-aligned", 0x1000);
    check_error(ept.map(0x1000, 0x4000'0000, 0x1001, kGuestRam), "paging: mapping is not page-aligned", 0x1000);
    // 48-bit guest-physical addresses (4-level EPT), 52-bit host-physical ones.
    check_error(ept.map(0xffff'ffff'f000, 0x4000'0000, 0x2000, kGuestRam),
                "paging: mapping extends past the translatable range", 0xffff'ffff'f000);
    check_error(ept.map(0xffff'ffff'ffff'f000, 0x4000'0000, 0x2000, kGuestRam),
                "paging: mapping extends past the translatable range", 0xffff'ffff'ffff'f000);
    check_error(ept.map(0x0, 0xf'ffff'ffff'f000, 0x2000, kGuestRam), "paging: physical address beyond 52 bits",
                0xf'ffff'ffff'f000);
    CHECK(tables.stores().empty());
    // The largest guest-physical page a 4-level EPT can hold maps fine.
    REQUIRE(ept.map(0xffff'ffff'f000, 0x4000'0000, 0x1000, kGuestRam).ok());
    CHECK(ept.translate(0xffff'ffff'f123)->entry.address() == 0x4000'0000);
    CHECK(tables.table_count() == 4);

    // Out of tables: the error comes back, nothing half-linked stays visible (the fake checks).
    check_error(ept.map(0x0, 0x5000'0000, 0x1000, kGuestRam), "fake EPT memory: out of tables", 0);
    CHECK_FALSE(ept.translate(0x0).has_value());

    RecordingEptMemory more;
    Ept second(more);
    REQUIRE(second.create_root().ok());
    REQUIRE(second.map(0x0, 0x4000'0000, 2 * kMiB, kGuestRam).ok());
    check_error(second.map(0x1000, 0x5000'0000, 0x1000, kGuestRam), "paging: address already mapped by a 2 MiB page",
                0x1000);
    REQUIRE(second.map(0x20'0000, 0x5000'0000, 0x1000, kGuestRam).ok());
    check_error(second.map(0x20'0000, 0x6000'0000, 0x1000, kGuestRam), "paging: address already mapped", 0x20'0000);
    // A 2 MiB leaf where a page table already hangs is refused too.
    check_error(second.map(0x20'0000, 0x6000'0000, 2 * kMiB, kGuestRam), "paging: address already mapped", 0x20'0000);
    CHECK(second.translate(0x20'0000)->entry.address() == 0x5000'0000);
}

TEST_CASE("ept_pointer: write-back, 4-level walk, optional accessed/dirty flags, address kept") {
    CHECK(ept_pointer(0x1234'5000, false) == 0x1234'501e);
    CHECK(ept_pointer(0x1234'5000, true) == 0x1234'505e);
    for (bool ad : {false, true}) {
        std::uint64_t p = ept_pointer(0xf'ffff'ffff'f000, ad);
        CHECK((p & 7) == 6);                    // bits 2:0 memory type WB
        CHECK(((p >> 3) & 7) == 3);             // bits 5:3 walk length minus one
        CHECK(((p >> 6) & 1) == (ad ? 1u : 0u));  // bit 6 A/D enable
        CHECK(((p >> 7) & 0x1f) == 0);          // bits 11:7 reserved
        CHECK((p & ~0xfffull) == 0xf'ffff'ffff'f000);
    }
}

}  // TEST_SUITE
