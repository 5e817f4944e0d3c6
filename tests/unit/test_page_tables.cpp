// IA-32e page-table builder and the hypervisor's W^X address-space plan
// (arch-x86_64/paging/page_table_builder.hpp, host_address_space.hpp), built into a fake memory
// that checks every store (recording_table_memory.hpp).
#include <doctest/doctest.h>

#include <memory>
#include <vector>

#include "arch-x86_64/boot/multiboot2.hpp"
#include "arch-x86_64/paging/host_address_space.hpp"
#include "helpers.hpp"
#include "recording_table_memory.hpp"

using namespace tandem;
using namespace tandem::x86;
using test::RecordingTableMemory;

namespace {

using Builder = PageTableBuilder<RecordingTableMemory>;
using Entry = PageTableEntry;
constexpr std::uint64_t kMiB = 1ull << 20;

std::vector<LeafMapping> leaves(const Builder& b) {
    std::vector<LeafMapping> out;
    b.for_each_leaf([&](const LeafMapping& m) { out.push_back(m); });
    return out;
}

void check_error(const Status& s, const char* message, std::uint64_t value) {
    REQUIRE_FALSE(s.ok());
    CHECK(test::message(s.error()) == message);
    CHECK(s.error().value == value);
}

// The layout of the real image (linker.ld at 0x200000, sizes from a build) and the memory map
// GRUB gave it in Bochs (the multiboot2 fixture).
const ImageLayout kImage{{0x200000, 0x20b000}, {0x20b000, 0x20e000}, {0x20e000, 0x225000}};

std::unique_ptr<boot::BootInfo> grub_boot_info() {
    static const std::vector<std::uint8_t> block = test::read_hex_fixture("mbi_grub_bochs.hex");
    auto info = std::make_unique<boot::BootInfo>();
    REQUIRE(boot::parse_multiboot2(block, 0x168058, *info).ok());
    return info;
}

}  // namespace

TEST_SUITE("page_tables") {

TEST_CASE("2 MiB pages where both sides are aligned, 4 KiB pages elsewhere") {
    RecordingTableMemory mem;
    Builder b(mem);
    REQUIRE(b.create_root().ok());
    REQUIRE(b.map(0x40000000, 0x80000000, 4 * kMiB + 0x2000, kReadWriteData).ok());
    auto ls = leaves(b);
    REQUIRE(ls.size() == 4);
    CHECK(ls[0].virt == 0x40000000);
    CHECK(ls[0].size == 2 * kMiB);
    CHECK(ls[0].entry.address() == 0x80000000);
    CHECK(ls[1].virt == 0x40200000);
    CHECK(ls[1].size == 2 * kMiB);
    CHECK(ls[2].virt == 0x40400000);
    CHECK(ls[2].size == 0x1000);
    CHECK(ls[3].virt == 0x40401000);
    CHECK(ls[3].entry.address() == 0x80401000);
    CHECK(mem.table_count() == 4);  // PML4, PDPT, PD, one PT

    // Virtual and physical 2 MiB-aligned differently: small pages only.
    REQUIRE(b.map(0x200000, 0x201000, 2 * kMiB, kReadOnlyData).ok());
    auto small = leaves(b);
    CHECK(small.size() == 4 + 512);
    for (const LeafMapping& m : small) {
        if (m.virt < 0x40000000) {
            CHECK(m.size == 0x1000);
            CHECK(m.entry.address() == m.virt + 0x1000);
        }
    }
    // for_each_leaf goes in ascending virtual order without overlaps.
    for (std::size_t i = 1; i < small.size(); ++i) CHECK(small[i - 1].virt + small[i - 1].size <= small[i].virt);
}

TEST_CASE("translate and entry bits per permission set") {
    RecordingTableMemory mem;
    Builder b(mem);
    REQUIRE(b.create_root().ok());
    REQUIRE(b.map(0x200000, 0x200000, 0x1000, kText).ok());
    REQUIRE(b.map(0x201000, 0x201000, 0x1000, kReadOnlyData).ok());
    REQUIRE(b.map(0x202000, 0x202000, 0x1000, kReadWriteData).ok());
    REQUIRE(b.map(0xfec00000, 0xfec00000, 0x1000, kDeviceMemory).ok());
    REQUIRE(b.map(0x7fffffe00000, 0x40000000, 2 * kMiB, kReadWriteData).ok());  // the last 2 MiB below 2^47

    auto text = b.translate(0x200abc);
    REQUIRE(text.has_value());
    CHECK(text->virt == 0x200000);
    CHECK(text->size == 0x1000);
    CHECK(text->entry.raw == (0x200000 | Entry::kPresent));
    CHECK(b.translate(0x201fff)->entry.raw == (0x201000 | Entry::kPresent | Entry::kNoExecute));
    CHECK(b.translate(0x202000)->entry.raw == (0x202000 | Entry::kPresent | Entry::kWritable | Entry::kNoExecute));
    CHECK(b.translate(0xfec00000)->entry.raw == (0xfec00000 | Entry::kPresent | Entry::kWritable | Entry::kNoExecute |
                                                 Entry::kCacheDisable | Entry::kWriteThrough));
    auto large = b.translate(0x7fffffffffff);
    REQUIRE(large.has_value());
    CHECK(large->virt == 0x7fffffe00000);
    CHECK(large->size == 2 * kMiB);
    CHECK(large->entry.raw ==
          (0x40000000 | Entry::kPresent | Entry::kWritable | Entry::kNoExecute | Entry::kLargePage));

    CHECK_FALSE(b.translate(0x203000).has_value());
    CHECK_FALSE(b.translate(0).has_value());
    CHECK_FALSE(b.translate(0x7fffffdfffff).has_value());
    CHECK_FALSE(b.translate(0x40000000).has_value());
}

TEST_CASE("refusals: W+X, overlaps, misalignment, non-canonical, beyond 52 bits") {
    RecordingTableMemory mem;
    Builder b(mem);
    REQUIRE(b.create_root().ok());
    check_error(b.map(0x1000, 0x1000, 0x1000, MapPermissions{true, true, CacheMode::write_back}),
                "paging: refusing a writable+executable mapping", 0x1000);
    CHECK(mem.stores().empty());  // refused before anything was touched

    REQUIRE(b.map(0x201000, 0x201000, 0x1000, kText).ok());
    check_error(b.map(0x201000, 0x901000, 0x1000, kReadWriteData), "paging: address already mapped", 0x201000);
    check_error(b.map(0x200000, 0x200000, 2 * kMiB, kReadWriteData), "paging: address already mapped", 0x200000);
    REQUIRE(b.map(0x400000, 0x400000, 2 * kMiB, kReadWriteData).ok());
    check_error(b.map(0x401000, 0x401000, 0x1000, kReadWriteData), "paging: address already mapped by a 2 MiB page",
                0x401000);
    check_error(b.map(0x400000, 0x400000, 2 * kMiB, kReadOnlyData), "paging: address already mapped", 0x400000);
    CHECK(b.translate(0x201000)->entry.raw == (0x201000 | Entry::kPresent));  // the originals are intact
    CHECK(b.translate(0x400000)->entry.writable());

    check_error(b.map(0x1800, 0x1000, 0x1000, kText), "paging: mapping is not page-aligned", 0x1800);
    check_error(b.map(0x1000, 0x1800, 0x1000, kText), "paging: mapping is not page-aligned", 0x1000);
    check_error(b.map(0x1000, 0x1000, 0x800, kText), "paging: mapping is not page-aligned", 0x1000);
    check_error(b.map(1ull << 47, 0x1000, 0x1000, kText), "paging: mapping extends past the translatable range", 1ull << 47);
    check_error(b.map((1ull << 47) - 0x1000, 0x1000, 0x2000, kText), "paging: mapping extends past the translatable range",
                (1ull << 47) - 0x1000);
    check_error(b.map(0xfffffffffffff000, 0x1000, 0x2000, kText), "paging: mapping extends past the translatable range",
                0xfffffffffffff000);
    check_error(b.map(0x1000, 1ull << 52, 0x1000, kText), "paging: physical address beyond 52 bits", 1ull << 52);
    check_error(b.map(0x1000, (1ull << 52) - 0x1000, 0x2000, kText), "paging: physical address beyond 52 bits",
                (1ull << 52) - 0x1000);
    REQUIRE(b.map(0x1000, (1ull << 52) - 0x1000, 0x1000, kText).ok());  // the last physical page is fine
    CHECK(b.map(0x5000, 0x5000, 0, kText).ok());  // nothing to do
    CHECK_FALSE(b.translate(0x5000).has_value());
}

TEST_CASE("running out of table memory fails cleanly") {
    RecordingTableMemory mem(3);  // root, PDPT, PD: no page table left
    Builder b(mem);
    REQUIRE(b.create_root().ok());
    REQUIRE(b.map(0, 0, 2 * kMiB, kReadWriteData).ok());  // a large page needs no PT
    Status s = b.map(0x200000, 0x200000, 0x1000, kReadWriteData);
    REQUIRE_FALSE(s.ok());
    CHECK(test::message(s.error()) == "fake memory: out of tables");
    CHECK(leaves(b).size() == 1);

    RecordingTableMemory none(0);
    Builder nothing(none);
    CHECK_FALSE(nothing.create_root().ok());
}

TEST_CASE("host address space plan for the real image and GRUB's memory map") {
    auto info = grub_boot_info();
    std::vector<HostMapping> plan(kMaxHostMappings);
    auto n = plan_host_address_space(kImage, info->memory_map(), plan);
    REQUIRE(n.ok());
    REQUIRE(*n == 6);
    plan.resize(*n);
    CHECK(std::string(plan[0].what) == "image text");
    CHECK(plan[0].range.start == 0x200000);
    CHECK(plan[0].range.end == 0x20b000);
    CHECK_FALSE(plan[0].perm.writable);
    CHECK(plan[0].perm.executable);
    CHECK(std::string(plan[1].what) == "image read-only data");
    CHECK(std::string(plan[2].what) == "image data");
    // RAM: page 0 and the image cut out; the ACPI-reclaimable tail merges with the RAM below it.
    const std::pair<std::uint64_t, std::uint64_t> ram[] = {{0x1000, 0x9f000}, {0x100000, 0x200000},
                                                           {0x225000, 0x10000000}};
    for (std::size_t i = 0; i < 3; ++i) {
        CAPTURE(i);
        CHECK(std::string(plan[3 + i].what) == "RAM");
        CHECK(plan[3 + i].range.start == ram[i].first);
        CHECK(plan[3 + i].range.end == ram[i].second);
        CHECK(plan[3 + i].perm.writable);
        CHECK_FALSE(plan[3 + i].perm.executable);
    }

    RecordingTableMemory mem;
    Builder b(mem);
    REQUIRE(build_host_address_space(b, std::span<const HostMapping>{plan}).ok());
    CHECK(mem.table_count() == 5);  // PML4, PDPT, PD for the first GiB, PTs for 0-2 MiB and 2-4 MiB

    std::size_t large_pages = 0;
    for (const LeafMapping& m : leaves(b)) {
        CAPTURE(m.virt);
        CHECK_FALSE((m.entry.writable() && m.entry.executable()));
        CHECK(m.entry.address() == m.virt);  // identity
        CHECK_FALSE(m.entry.uncached());
        CHECK((m.entry.raw & Entry::kUser) == 0);
        large_pages += m.size == 2 * kMiB;
        bool text = m.virt >= 0x200000 && m.virt < 0x20b000;
        bool rodata = m.virt >= 0x20b000 && m.virt < 0x20e000;
        CHECK(m.entry.executable() == text);
        CHECK(m.entry.writable() == (!text && !rodata));
    }
    CHECK(large_pages == (0x10000000 - 0x400000) / (2 * kMiB));

    CHECK_FALSE(b.translate(0).has_value());
    CHECK_FALSE(b.translate(0xfff).has_value());
    for (const boot::MemoryRegion& r : info->memory_map()) {
        bool ram_type = r.type == 1 || r.type == 3;
        for (std::uint64_t p = r.base; p < r.base + r.length; p += 0x1000) {
            if (p == 0) continue;
            auto t = b.translate(p);
            if (!ram_type) {
                CHECK_FALSE(t.has_value());
                continue;
            }
            REQUIRE(t.has_value());
            CHECK(t->entry.address() + (p - t->virt) == p);
        }
    }
    for (std::uint64_t p = 0xa0000; p < 0xe8000; p += 0x1000) CHECK_FALSE(b.translate(p).has_value());  // not in the map
}

TEST_CASE("plan: RAM types, clipping, buffer size; uncached only when asked") {
    const boot::MemoryRegion map[] = {
        {0x0, 0x100000, 1},          {0x80000, 0x100000, 1},  // overlapping entries merge
        {0x1000000, 0x1000, 4},      {0x2000000, 0x1000, 5},  // ACPI NVS mapped, bad RAM not
        {0x3000000, 0, 1},           {0x4000000, 0x1800, 1},  // empty; a partial page is dropped
        {0x7ffffffff000, 0x3000, 1},                          // clipped at 2^47
    };
    const ImageLayout image{{0x400000, 0x401000}, {0x401000, 0x402000}, {0x402000, 0x403000}};
    std::vector<HostMapping> plan(kMaxHostMappings);
    auto n = plan_host_address_space(image, map, plan);
    REQUIRE(n.ok());
    REQUIRE(*n == 3 + 4);
    CHECK(plan[3].range.start == 0x1000);
    CHECK(plan[3].range.end == 0x180000);
    CHECK(plan[4].range.start == 0x1000000);
    CHECK(plan[4].range.end == 0x1001000);
    CHECK(plan[5].range.start == 0x4000000);
    CHECK(plan[5].range.end == 0x4001000);
    CHECK(plan[6].range.start == 0x7ffffffff000);
    CHECK(plan[6].range.end == 1ull << 47);

    std::vector<HostMapping> small(kMaxHostMappings - 1);
    auto refused = plan_host_address_space(image, map, small);
    REQUIRE_FALSE(refused.ok());
    CHECK(test::message(refused.error()) == "paging: plan buffer too small");
    CHECK(refused.error().value == kMaxHostMappings - 1);

    plan.resize(*n);
    plan.push_back({{0xfee00000, 0xfee01000}, kDeviceMemory, "local APIC"});
    RecordingTableMemory mem;
    Builder b(mem);
    REQUIRE(build_host_address_space(b, std::span<const HostMapping>{plan}).ok());
    std::size_t uncached = 0;
    b.for_each_leaf([&](const LeafMapping& m) {
        if (m.entry.uncached()) {
            ++uncached;
            CHECK(m.virt == 0xfee00000);
        }
    });
    CHECK(uncached == 1);
    CHECK(b.translate(0x7ffffffff000).has_value());
}

}  // TEST_SUITE
