// Dirty tracking (replication/dirty/dirty_tracker.hpp) over a fake EPT and a fake PML log:
// draining the log (empty, partial, wrapped), and each method's bookkeeping at begin, during the
// epoch and at harvest. Then EptDirtyControlImpl (arch-x86_64/vmx/ept_dirty_control.hpp) on a
// real EptBuilder: clearing D and write-protecting flip exactly the intended leaf bit.
#include <doctest/doctest.h>

#include <functional>
#include <vector>

#include "arch-x86_64/vmx/ept.hpp"
#include "arch-x86_64/vmx/ept_dirty_control.hpp"
#include "ckpt_fake_ept.hpp"

using namespace tandem;
using namespace tandem::dirty;
using ckpt::FakeEptControl;
using ckpt::FakePmlLog;
using Op = FakeEptControl::Op;

namespace {

std::vector<std::uint64_t> set_pages(const DirtyBitmap& b) {
    std::vector<std::uint64_t> out;
    for (std::uint64_t p = b.next(0); p < b.pages(); p = b.next(p + 1)) out.push_back(p);
    return out;
}

struct Bitmap {
    explicit Bitmap(std::uint64_t pages) : words(DirtyBitmap::words_for(pages) + 1, ~0ull), bits(words, pages) {}
    std::vector<std::uint64_t> words;
    DirtyBitmap bits;
};

// A tracker over `pages` pages with its fakes; every page starts dirty and writable.
struct Rig {
    Rig(DirtyTracking method, std::uint64_t pages, bool with_pml)
        : ept(pages), log(with_pml ? &pml : nullptr), current(pages), out(pages), tracker(method, ept, log, current.bits) {
        for (auto& p : ept.pages) p.dirty = true;
        for (std::uint64_t p = 0; p < pages; ++p) (void)out.bits.set(p);  // harvest must clear it
    }
    // A guest write, resolving a write-protection fault as the vCPU would.
    void write(std::uint64_t page) {
        auto on_full = [&] { tracker.on_pml_full(); };
        if (!ckpt::cpu_write(ept, log, page, on_full)) {
            REQUIRE(tracker.on_write_fault(page));
            ept.set_write_protect(page, false);
            REQUIRE(ckpt::cpu_write(ept, log, page, on_full));
        }
    }
    std::vector<std::uint64_t> harvest() {
        ept.calls.clear();
        tracker.harvest(out.bits);
        return set_pages(out.bits);
    }

    FakeEptControl ept;
    FakePmlLog pml;
    FakePmlLog* log;
    Bitmap current, out;
    DirtyTracker tracker;
};

}  // namespace

TEST_CASE("dirty tracking: drain_pml takes the valid entries only and empties the log") {
    Bitmap b(64);
    b.bits.clear();
    FakePmlLog log;
    log.log.fill(2 * 4096);  // stale entries below the index must not be taken
    std::uint32_t outside = 0;
    SUBCASE("index 511: empty") {
        CHECK(drain_pml(log, b.bits, &outside) == 0);
        CHECK(set_pages(b.bits).empty());
    }
    SUBCASE("partial: entries index+1 .. 511") {
        for (std::uint64_t gpa : {1 * 4096ull, 5 * 4096ull + 0x123, 63 * 4096ull, 64 * 4096ull, 0xffff'ffff'ffff'f000ull}) log.append(gpa);
        CHECK(log.index() == 506);
        CHECK(drain_pml(log, b.bits, &outside) == 5);
        CHECK(set_pages(b.bits) == std::vector<std::uint64_t>{1, 5, 63});
        CHECK(outside == 2);
    }
    SUBCASE("index 0: 511 entries") {
        for (std::uint64_t i = 0; i < 511; ++i) log.append((i % 60) * 4096);
        CHECK(log.index() == 0);
        CHECK(drain_pml(log, b.bits, &outside) == 511);
        CHECK(set_pages(b.bits).size() == 60);
        CHECK_FALSE(b.bits.test(60));
    }
    SUBCASE("wrapped (0xffff): all 512 entries") {
        for (std::uint64_t i = 0; i < 512; ++i) log.append(i < 500 ? (i % 64) * 4096 : (64 + i) * 4096);
        CHECK(log.index() == 0xffff);
        CHECK(drain_pml(log, b.bits, &outside) == 512);
        CHECK(b.bits.count() == 64);
        CHECK(outside == 12);
    }
    SUBCASE("any index past 511 counts as wrapped; no outside counter needed") {
        log.log.fill(7 * 4096);
        log.next = 600;
        CHECK(drain_pml(log, b.bits) == 512);
        CHECK(set_pages(b.bits) == std::vector<std::uint64_t>{7});
    }
    CHECK(log.index() == 511);
    CHECK(log.resets == 1);
}

TEST_CASE("dirty tracking: pml clears every D flag at begin, then logged pages at harvest") {
    Rig r(DirtyTracking::pml, 64, true);
    r.tracker.begin();
    CHECK(r.ept.count(Op::clear_dirty) == 64);
    CHECK(r.ept.dirty_count() == 0);
    CHECK(r.ept.count(Op::protect) == 0);
    CHECK(r.ept.last_call_is_invalidate());
    CHECK(r.pml.resets == 1);
    CHECK(r.current.bits.count() == 0);
    for (std::uint64_t p : {40u, 3u, 10u, 10u, 3u}) r.write(p);
    CHECK(r.pml.index() == 508);  // three pages logged once each: only the 0 -> 1 D transition logs
    CHECK(r.harvest() == std::vector<std::uint64_t>{3, 10, 40});
    CHECK(r.ept.pages_of(Op::clear_dirty) == std::vector<std::uint64_t>{3, 10, 40});
    CHECK(r.ept.count(Op::invalidate) == 1);
    CHECK(r.ept.last_call_is_invalidate());
    CHECK(r.ept.dirty_count() == 0);
    CHECK(r.pml.index() == 511);
    CHECK(r.current.bits.count() == 0);
    // The cleared D flag makes the next write log again.
    r.write(10);
    CHECK(r.harvest() == std::vector<std::uint64_t>{10});
    CHECK(r.harvest().empty());
    CHECK_FALSE(r.tracker.protects_pages());
    CHECK_FALSE(r.tracker.on_write_fault(5));
    CHECK(r.harvest().empty());
}

TEST_CASE("dirty tracking: pml with more pages per epoch than the log holds (log-full exits)") {
    for (DirtyTracking method : {DirtyTracking::pml, DirtyTracking::automatic}) {
        Rig r(method, 2048, true);
        r.tracker.begin();
        std::vector<std::uint64_t> written;
        for (std::uint64_t p = 0; p < 2048; p += 2) written.push_back(p);  // 1024 pages: two log fills
        for (std::uint64_t p : written) r.write(p);
        CHECK(r.harvest() == written);
        CHECK(r.ept.dirty_count() == 0);
        CHECK(r.tracker.pml_entries_outside_ram() == 0);
        // An address outside RAM in the log is counted, not taken.
        r.pml.append(4096ull * 5000);
        r.tracker.on_pml_full();
        CHECK(r.tracker.pml_entries_outside_ram() == 1);
        CHECK(r.harvest().empty());
    }
}

TEST_CASE("dirty tracking: ad scans every page's D flag and clears the dirty ones") {
    Rig r(DirtyTracking::ad_bits, 64, false);
    r.tracker.begin();
    CHECK(r.ept.count(Op::clear_dirty) == 64);
    CHECK(r.ept.dirty_count() == 0);
    CHECK(r.ept.last_call_is_invalidate());
    for (std::uint64_t p : {63u, 0u, 17u, 17u}) r.write(p);
    CHECK(r.harvest() == std::vector<std::uint64_t>{0, 17, 63});
    CHECK(r.ept.count(Op::clear_dirty) == 64);  // the scan looks at every page
    CHECK(r.ept.dirty_count() == 0);
    CHECK(r.ept.count(Op::protect) + r.ept.count(Op::unprotect) == 0);
    CHECK(r.ept.last_call_is_invalidate());
    CHECK(r.harvest().empty());
    CHECK_FALSE(r.tracker.on_write_fault(3));
    CHECK(r.harvest().empty());
}

TEST_CASE("dirty tracking: wp protects everything, records faults, re-protects at harvest") {
    Rig r(DirtyTracking::write_protect, 64, false);
    CHECK(r.tracker.protects_pages());
    r.tracker.begin();
    CHECK(r.ept.count(Op::protect) == 64);
    CHECK(r.ept.count(Op::clear_dirty) == 0);
    CHECK(r.ept.last_call_is_invalidate());
    for (const auto& p : r.ept.pages) CHECK_FALSE(p.writable);
    r.ept.calls.clear();
    r.write(9);
    r.write(5);
    r.write(5);  // writable now: no second fault
    CHECK(r.ept.pages_of(Op::unprotect) == std::vector<std::uint64_t>{9, 5});
    CHECK(r.harvest() == std::vector<std::uint64_t>{5, 9});
    CHECK(r.ept.pages_of(Op::protect) == std::vector<std::uint64_t>{5, 9});
    CHECK(r.ept.count(Op::unprotect) == 0);
    CHECK(r.ept.last_call_is_invalidate());
    for (const auto& p : r.ept.pages) CHECK_FALSE(p.writable);
    CHECK(r.harvest().empty());
    CHECK(r.ept.count(Op::protect) == 0);
}

// ---- EptDirtyControlImpl on a real EPT -----------------------------------------------------

namespace {

using Ept = x86::EptBuilder<ckpt::RewritableEptMemory>;
using Control = x86::EptDirtyControlImpl<ckpt::RewritableEptMemory, std::function<void()>>;
constexpr std::uint64_t kHost = 0x4000'0000;

struct EptRig {
    EptRig() : ept(memory), control(ept, [this] { ++invalidations; }) {
        REQUIRE(ept.create_root());
        REQUIRE(ept.map(0, kHost, 4ull << 20, x86::kGuestRam, /*small_only=*/true));
        REQUIRE(ept.map(8ull << 20, kHost + (8ull << 20), 2ull << 20, x86::kGuestRam));  // one 2 MiB leaf
        REQUIRE(ept.map(16ull << 20, kHost + (16ull << 20), 4096, x86::kGuestRam, true));  // page 4096 alone
        memory.stores.clear();
    }
    std::uint64_t leaf(std::uint64_t page) const {
        auto l = ept.translate(page * 4096);
        REQUIRE(l);
        return l->entry.raw;
    }
    std::vector<std::uint64_t> all_leaves() const {
        std::vector<std::uint64_t> out;
        ept.for_each_leaf([&](const Ept::LeafMapping& l) { out.push_back(l.entry.raw); });
        return out;
    }
    // The processor sets a leaf's D flag.
    void set_dirty(std::uint64_t page) {
        auto slot = ept.leaf_slot(page * 4096);
        REQUIRE(slot);
        memory.poke(slot->table, slot->index, memory.load(slot->table, slot->index) | x86::EptEntry::kDirty);
    }

    ckpt::RewritableEptMemory memory;
    Ept ept;
    int invalidations = 0;
    Control control;
};

}  // namespace

TEST_CASE("dirty tracking: EptDirtyControlImpl clears exactly the D flag of the page's leaf") {
    EptRig r;
    std::uint64_t clean = r.leaf(7);
    CHECK(clean == (kHost + 7 * 4096 | 7 | 6 << 3));  // RWX, write-back
    r.set_dirty(7);
    r.set_dirty(1023);
    auto before = r.all_leaves();
    CHECK(r.control.test_and_clear_dirty(7));
    REQUIRE(r.memory.stores.size() == 1);
    CHECK(r.memory.stores[0].value == clean);
    CHECK(r.leaf(7) == clean);
    CHECK_FALSE(r.control.test_and_clear_dirty(7));  // already clean: no store
    CHECK_FALSE(r.control.test_and_clear_dirty(8));
    CHECK(r.memory.stores.size() == 1);
    auto after = r.all_leaves();
    REQUIRE(after.size() == before.size());
    std::size_t changed = 0;
    for (std::size_t i = 0; i < after.size(); ++i) changed += before[i] != after[i];
    CHECK(changed == 1);
    CHECK(r.control.test_and_clear_dirty(1023));
    CHECK(r.invalidations == 0);
    r.control.invalidate();
    CHECK(r.invalidations == 1);
}

TEST_CASE("dirty tracking: EptDirtyControlImpl write-protection flips exactly the W bit") {
    EptRig r;
    r.set_dirty(100);
    std::uint64_t original = r.leaf(100);
    auto before = r.all_leaves();
    r.control.set_write_protect(100, true);
    REQUIRE(r.memory.stores.size() == 1);
    CHECK(r.leaf(100) == (original & ~x86::EptEntry::kWrite));
    CHECK(x86::EptEntry{r.leaf(100)}.readable());
    CHECK(x86::EptEntry{r.leaf(100)}.dirty());  // D survives
    r.control.set_write_protect(100, true);    // idempotent
    CHECK(r.leaf(100) == (original & ~x86::EptEntry::kWrite));
    r.control.set_write_protect(100, false);
    CHECK(r.leaf(100) == original);
    CHECK(r.all_leaves() == before);
    CHECK(r.leaf(4096) == (kHost + (16ull << 20) | 7 | 6 << 3));
    r.control.set_write_protect(4096, true);
    CHECK_FALSE(x86::EptEntry{r.leaf(4096)}.writable());
}

TEST_CASE("dirty tracking: EptDirtyControlImpl leaves 2 MiB leaves and unmapped pages alone") {
    EptRig r;
    std::uint64_t big = 2048;  // guest 8 MiB: inside the 2 MiB leaf
    CHECK(r.ept.translate(big * 4096)->size == 2ull << 20);
    CHECK_FALSE(r.control.test_and_clear_dirty(big));
    r.control.set_write_protect(big, true);
    CHECK_FALSE(r.control.test_and_clear_dirty(1ull << 30));  // no tables at all there
    r.control.set_write_protect(1ull << 30, false);
    CHECK(r.memory.stores.empty());
    CHECK_FALSE(r.control.test_and_clear_dirty(4097));  // next to the lone page: table exists, entry empty
    CHECK(r.memory.stores.empty());
}

// Regression test (bug found and fixed): ept_dirty_control.hpp:29-34 — set_write_protect does not check that the leaf slot holds a
// present entry: for a page whose page table exists but whose entry is empty, protect=false stores
// kWrite alone (0x2), a present, write-only EPT entry (a misconfiguration, SDM Vol. 3C §29.3.3.1)
// mapping host-physical 0. Expected: no store, the page stays unmapped.
TEST_CASE("dirty tracking: EptDirtyControlImpl never creates an entry for an unmapped page") {
    EptRig r;
    r.control.set_write_protect(4097, false);
    CHECK(r.memory.stores.empty());
    CHECK_FALSE(r.ept.translate(4097 * 4096).has_value());
}

// The range forms walk each leaf table once; they must change exactly what the single-page forms
// change, across table boundaries, over a 2 MiB leaf, unmapped pages and a lone page.
TEST_CASE("dirty tracking: EptDirtyControlImpl range forms equal the single-page forms") {
    constexpr std::uint64_t kFirst = 300, kCount = 4100 - 300;  // pages 300..4099: 4 MiB of 4 KiB leaves, the 2 MiB leaf, page 4096
    EptRig ranged, single;
    for (std::uint64_t p : {300ull, 511ull, 512ull, 1023ull, 4096ull, 5ull}) {
        ranged.set_dirty(p);
        single.set_dirty(p);
    }
    std::uint64_t words[128]{};
    dirty::DirtyBitmap was_dirty(words, 8192);
    ranged.control.clear_dirty_range(kFirst, kCount, &was_dirty);
    std::vector<std::uint64_t> expected_dirty;
    for (std::uint64_t p = kFirst; p < kFirst + kCount; ++p) {
        if (single.control.test_and_clear_dirty(p)) expected_dirty.push_back(p);
    }
    CHECK(expected_dirty == std::vector<std::uint64_t>{300, 511, 512, 1023, 4096});
    std::vector<std::uint64_t> got_dirty;
    for (std::uint64_t p = was_dirty.next(0); p < was_dirty.pages(); p = was_dirty.next(p + 1)) got_dirty.push_back(p);
    CHECK(got_dirty == expected_dirty);
    CHECK(ranged.all_leaves() == single.all_leaves());
    CHECK(x86::EptEntry{ranged.leaf(5)}.dirty());  // outside the range: untouched

    ranged.control.set_write_protect_range(kFirst, kCount, true);
    for (std::uint64_t p = kFirst; p < kFirst + kCount; ++p) single.control.set_write_protect(p, true);
    CHECK(ranged.all_leaves() == single.all_leaves());
    CHECK_FALSE(x86::EptEntry{ranged.leaf(4096)}.writable());
    CHECK(x86::EptEntry{ranged.leaf(299)}.writable());
    CHECK(ranged.ept.translate(2048 * 4096)->entry.writable());  // the 2 MiB leaf is not tracked
    ranged.control.set_write_protect_range(kFirst, kCount, false);
    for (std::uint64_t p = kFirst; p < kFirst + kCount; ++p) single.control.set_write_protect(p, false);
    CHECK(ranged.all_leaves() == single.all_leaves());
    CHECK_FALSE(ranged.ept.translate(4097 * 4096).has_value());  // no entry created
    CHECK(ranged.invalidations == 0);
}
