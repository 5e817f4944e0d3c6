// Fakes for dirty tracking (replication/dirty/dirty_tracker.hpp): an EptDirtyControl over a
// per-page (dirty, writable) array that records every call, a page-modification log, the
// processor's side of a guest write (D flag, PML logging, EPT violation on a protected page), and
// an EPT table memory in which leaf entries may be rewritten (the recording fakes forbid that,
// rightly, for table building) so EptDirtyControlImpl can run on a real EptBuilder.
#pragma once

#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <map>
#include <vector>

#include "hypervisor/util/result.hpp"
#include "replication/dirty/dirty_tracker.hpp"

namespace ckpt {

class FakeEptControl final : public tandem::dirty::EptDirtyControl {
public:
    enum class Op { clear_dirty, protect, unprotect, invalidate };
    struct Call {
        Op op;
        std::uint64_t page;
    };
    struct Page {
        bool dirty = false;
        bool writable = true;
    };

    explicit FakeEptControl(std::uint64_t pages) : pages(pages) {}

    bool test_and_clear_dirty(std::uint64_t page) override {
        calls.push_back({Op::clear_dirty, page});
        REQUIRE(page < pages.size());
        bool was = pages[page].dirty;
        pages[page].dirty = false;
        return was;
    }
    void set_write_protect(std::uint64_t page, bool protect) override {
        calls.push_back({protect ? Op::protect : Op::unprotect, page});
        REQUIRE(page < pages.size());
        pages[page].writable = !protect;
    }
    void invalidate() override { calls.push_back({Op::invalidate, 0}); }

    // The pages of every call of one kind, in call order.
    std::vector<std::uint64_t> pages_of(Op op) const {
        std::vector<std::uint64_t> out;
        for (const Call& c : calls) {
            if (c.op == op) out.push_back(c.page);
        }
        return out;
    }
    bool last_call_is_invalidate() const { return !calls.empty() && calls.back().op == Op::invalidate; }
    std::size_t count(Op op) const { return pages_of(op).size(); }
    std::uint64_t dirty_count() const {
        std::uint64_t n = 0;
        for (const Page& p : pages) n += p.dirty;
        return n;
    }

    std::vector<Page> pages;
    std::vector<Call> calls;
};

class FakePmlLog final : public tandem::dirty::PmlLog {
public:
    std::span<const std::uint64_t> entries() const override { return log; }
    std::uint16_t index() const override { return next; }
    void reset_index() override {
        next = 511;
        ++resets;
    }
    bool full() const { return next >= kEntries; }
    // What the processor does: write the entry at the index, then decrement it (wrapping past 0).
    void append(std::uint64_t gpa) {
        REQUIRE_FALSE(full());
        log[next] = gpa;
        next = static_cast<std::uint16_t>(next - 1);
    }

    std::array<std::uint64_t, kEntries> log{};
    std::uint16_t next = 511;
    unsigned resets = 0;
};

// A guest write to `page` as the processor performs it: false on a write-protected page (an EPT
// violation; nothing happens). Otherwise the D flag is set; with PML, the page is logged when its
// D flag goes from 0 to 1, and a full log first exits (on_full), which must empty it.
template <class OnFull>
bool cpu_write(FakeEptControl& ept, FakePmlLog* pml, std::uint64_t page, OnFull on_full) {
    REQUIRE(page < ept.pages.size());
    auto& p = ept.pages[page];
    if (!p.writable) return false;
    if (!p.dirty && pml != nullptr) {
        if (pml->full()) {
            on_full();
            REQUIRE_FALSE(pml->full());
        }
        pml->append(page * 4096);
    }
    p.dirty = true;
    return true;
}

// EPT table memory for EptBuilder where entries may be rewritten; every store is recorded.
class RewritableEptMemory {
public:
    struct Store {
        std::uint64_t table;
        unsigned index;
        std::uint64_t value;
    };

    tandem::Result<std::uint64_t> allocate_table() {
        std::uint64_t phys = next_;
        next_ += 0x1000;
        tables_[phys].fill(0);
        return phys;
    }
    std::uint64_t load(std::uint64_t table, unsigned i) const {
        REQUIRE(tables_.count(table) == 1);
        REQUIRE(i < 512);
        return tables_.at(table)[i];
    }
    void store(std::uint64_t table, unsigned i, std::uint64_t value) {
        REQUIRE(tables_.count(table) == 1);
        REQUIRE(i < 512);
        stores.push_back({table, i, value});
        tables_[table][i] = value;
    }
    // The processor's own update (the D flag), not recorded.
    void poke(std::uint64_t table, unsigned i, std::uint64_t value) { tables_.at(table)[i] = value; }

    std::vector<Store> stores;

private:
    std::uint64_t next_ = 0x5000'0000;
    std::map<std::uint64_t, std::array<std::uint64_t, 512>> tables_;
};

}  // namespace ckpt
