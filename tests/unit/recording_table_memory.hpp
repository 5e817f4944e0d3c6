// A fake page-table memory for PageTableBuilder: tables live in a std::map under made-up
// physical addresses, and every store is recorded and checked as it happens, so a test proves
// that a hardware walker could never see a half-built path:
//  - a present non-leaf entry may only point to an allocated table that is still all zeros and
//    not linked anywhere else (it was zeroed before the link was stored);
//  - a present entry is never overwritten (live translations are not rewritten in place);
//  - no leaf is ever writable and executable.
#pragma once

#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <map>
#include <vector>

#include "arch-x86_64/paging/page_table_entry.hpp"
#include "hypervisor/util/result.hpp"

namespace test {

class RecordingTableMemory {
public:
    struct Store {
        std::uint64_t table;
        unsigned index;
        std::uint64_t value;
    };
    using Table = std::array<std::uint64_t, 512>;

    explicit RecordingTableMemory(std::size_t max_tables = 1000) : max_tables_(max_tables) {}

    tandem::Result<std::uint64_t> allocate_table() {
        if (tables_.size() == max_tables_) return tandem::Error::of("fake memory: out of tables");
        std::uint64_t phys = next_;
        next_ += 0x1000;
        tables_[phys].fill(0);
        if (tables_.size() == 1) levels_[phys] = 4;  // the first table is the root (create_root)
        return phys;
    }

    std::uint64_t load(std::uint64_t table, unsigned i) const {
        REQUIRE(tables_.count(table) == 1);
        REQUIRE(i < 512);
        return tables_.at(table)[i];
    }

    void store(std::uint64_t table, unsigned i, std::uint64_t value) {
        stores_.push_back({table, i, value});
        REQUIRE(tables_.count(table) == 1);
        REQUIRE(i < 512);
        REQUIRE(levels_.count(table) == 1);  // only tables reachable from the root are written
        REQUIRE_FALSE(tandem::x86::PageTableEntry{tables_[table][i]}.present());
        tandem::x86::PageTableEntry e{value};
        int level = levels_[table];
        if (e.present()) {
            bool leaf = level == 1 || ((level == 2 || level == 3) && e.large());
            if (leaf) {
                REQUIRE_FALSE((e.writable() && e.executable()));
            } else {
                std::uint64_t child = e.address();
                REQUIRE(tables_.count(child) == 1);
                REQUIRE(levels_.count(child) == 0);
                for (std::uint64_t v : tables_[child]) REQUIRE(v == 0);
                levels_[child] = level - 1;
            }
        }
        tables_[table][i] = value;
    }

    std::size_t table_count() const { return tables_.size(); }
    const std::vector<Store>& stores() const { return stores_; }

private:
    std::size_t max_tables_;
    std::uint64_t next_ = 0x7000'0000;  // made-up physical addresses, 4 KiB apart
    std::map<std::uint64_t, Table> tables_;
    std::map<std::uint64_t, int> levels_;
    std::vector<Store> stores_;
};

}  // namespace test
