// A fake table memory for EptBuilder that checks every store against the EPT entry format
// (Intel SDM Vol. 3C §29.3.2, Tables 29-1 to 29-6) as it happens. recording_table_memory.hpp does
// the same for IA-32e paging entries, whose bits mean other things (an RWX EPT leaf is "writable
// and executable" there), hence this separate fake. Proven on every store:
//  - only tables reachable from the root are written, and a present entry is never overwritten;
//  - a present non-leaf entry points to an allocated table that is still all zeros and linked
//    nowhere else (a walker never sees a half-built path), with bits 7:3 clear (reserved in
//    non-leaf EPT entries) and read/write/execute all set (leaves decide the permissions);
//  - a leaf is at level 1, or at level 2 with bit 7 (no 1 GiB leaves are built), never
//    writable without being readable, with a valid memory type (0, 1, 4, 5, 6: 2, 3 and 7 are
//    misconfigurations, §29.3.3.1).
#pragma once

#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <map>
#include <vector>

#include "arch-x86_64/vmx/ept.hpp"
#include "hypervisor/util/result.hpp"

namespace test {

class RecordingEptMemory {
public:
    struct Store {
        std::uint64_t table;
        unsigned index;
        std::uint64_t value;
    };
    using Table = std::array<std::uint64_t, 512>;
    using Entry = tandem::x86::EptEntry;

    explicit RecordingEptMemory(std::size_t max_tables = 1000, std::uint64_t first = 0x7000'0000)
        : max_tables_(max_tables), next_(first) {}

    tandem::Result<std::uint64_t> allocate_table() {
        if (tables_.size() == max_tables_) return tandem::Error::of("fake EPT memory: out of tables");
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
        REQUIRE(levels_.count(table) == 1);
        REQUIRE_FALSE(Entry{tables_[table][i]}.present());
        Entry e{value};
        int level = levels_[table];
        if (e.present()) {
            bool leaf = level == 1 || (level == 2 && e.large());
            REQUIRE_FALSE((level >= 3 && e.large()));
            if (leaf) {
                REQUIRE_FALSE((e.writable() && !e.readable()));
                auto type = static_cast<unsigned>(e.memory_type());
                REQUIRE((type == 0 || type == 1 || type == 4 || type == 5 || type == 6));
            } else {
                REQUIRE((value & 0xf8) == 0);
                REQUIRE((e.readable() && e.writable() && e.executable()));
                std::uint64_t child = e.address();
                REQUIRE(tables_.count(child) == 1);
                REQUIRE(levels_.count(child) == 0);
                for (std::uint64_t v : tables_[child]) REQUIRE(v == 0);
                levels_[child] = level - 1;
            }
        }
        tables_[table][i] = value;
    }

    bool is_table(std::uint64_t phys) const { return tables_.count(phys & ~0xfffull) == 1; }
    std::size_t table_count() const { return tables_.size(); }
    const std::vector<Store>& stores() const { return stores_; }

private:
    std::size_t max_tables_;
    std::uint64_t next_;
    std::map<std::uint64_t, Table> tables_;
    std::map<std::uint64_t, int> levels_;
    std::vector<Store> stores_;
};

}  // namespace test
