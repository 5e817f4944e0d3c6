// Builds 4-level translation tables: the hypervisor's own IA-32e page tables and the guest's EPT
// have the same shape (512-entry tables, 4 KiB leaves at level 1, 2 MiB leaves at level 2) and
// differ only in entry bits, so one builder serves both, parameterised by:
//
//   Memory (where tables live):
//     Result<std::uint64_t> allocate_table();               // a zeroed 4 KiB frame
//     std::uint64_t load(std::uint64_t table, unsigned i) const;
//     void store(std::uint64_t table, unsigned i, std::uint64_t value);
//   Format (what entries mean):
//     using Entry; using Permissions;
//     static constexpr std::uint64_t kInputLimit;            // exclusive bound on mapped addresses
//     static Status check(const Permissions&, std::uint64_t at);  // policy, e.g. W^X
//     static std::uint64_t link(std::uint64_t table);        // non-leaf entry
//     static std::uint64_t leaf(std::uint64_t phys, const Permissions&, bool large);
//     static bool present(std::uint64_t raw);
//     static bool large(std::uint64_t raw);                  // meaningful for non-level-1 entries
//     static std::uint64_t address(std::uint64_t raw);
//
// Ordering: a new table is zeroed before the entry that links it is stored, and every entry is
// written with one 64-bit store, so a hardware walker never sees a half-built path. Host tests
// run this very code against a fake memory that records every store.
#pragma once

#include <cstdint>
#include <optional>

#include "hypervisor/util/result.hpp"

namespace tandem::x86 {

inline constexpr std::uint64_t kSmallPage = 4096;
inline constexpr std::uint64_t kLargePage = 2ull << 20;
inline constexpr unsigned kEntriesPerTable = 512;
inline constexpr std::uint64_t kMaxPhysical = 1ull << 52;  // architectural MAXPHYADDR bound

// Index of `address` in the table at `level` (4 = PML4 ... 1 = page table).
constexpr unsigned table_index(std::uint64_t address, int level) {
    return static_cast<unsigned>((address >> (12 + 9 * (level - 1))) & 0x1ff);
}
static_assert(table_index(0x0000'7fff'ffff'f000ull, 4) == 255);
static_assert(table_index(0x200000, 2) == 1);
static_assert(table_index(0x201000, 1) == 1);

template <class Entry>
struct Leaf {
    std::uint64_t virt;  // the input address (virtual, or guest-physical for EPT)
    std::uint64_t size;  // 4 KiB or 2 MiB
    Entry entry;
};

template <class Memory, class Format>
class FourLevelTables {
public:
    using Entry = typename Format::Entry;
    using Permissions = typename Format::Permissions;
    using LeafMapping = Leaf<Entry>;

    explicit FourLevelTables(Memory& memory) : memory_(memory) {}

    Status create_root() {
        auto root = memory_.allocate_table();
        if (!root) return root.error();
        root_ = *root;
        return success();
    }
    std::uint64_t root() const { return root_; }

    // Maps [virt, virt + size) to [phys, ...). Both page-aligned; 2 MiB leaves wherever both
    // sides are 2 MiB-aligned and at least 2 MiB remain (unless small_only), 4 KiB elsewhere.
    Status map(std::uint64_t virt, std::uint64_t phys, std::uint64_t size, const Permissions& perm,
               bool small_only = false) {
        if (auto s = Format::check(perm, virt); !s) return s;
        if (virt % kSmallPage != 0 || phys % kSmallPage != 0 || size % kSmallPage != 0) {
            return Error::of("paging: mapping is not page-aligned", virt);
        }
        if (virt + size < virt || virt + size > Format::kInputLimit) {
            return Error::of("paging: mapping extends past the translatable range", virt);
        }
        if (phys + size < phys || phys + size > kMaxPhysical) {
            return Error::of("paging: physical address beyond 52 bits", phys);
        }
        while (size != 0) {
            bool large = !small_only && virt % kLargePage == 0 && phys % kLargePage == 0 && size >= kLargePage;
            if (auto s = map_one(virt, phys, large, perm); !s) return s;
            std::uint64_t step = large ? kLargePage : kSmallPage;
            virt += step;
            phys += step;
            size -= step;
        }
        return success();
    }

    std::optional<LeafMapping> translate(std::uint64_t virt) const {
        std::uint64_t table = root_;
        for (int level = 4; level >= 1; --level) {
            std::uint64_t raw = memory_.load(table, table_index(virt, level));
            if (!Format::present(raw)) return std::nullopt;
            if (level == 1) return LeafMapping{virt & ~(kSmallPage - 1), kSmallPage, Entry{raw}};
            if (level == 2 && Format::large(raw)) return LeafMapping{virt & ~(kLargePage - 1), kLargePage, Entry{raw}};
            table = Format::address(raw);
        }
        return std::nullopt;
    }

    // Where the 4 KiB leaf entry for `virt` lives (table and index), if the walk reaches one.
    struct Slot {
        std::uint64_t table;
        unsigned index;
    };
    std::optional<Slot> leaf_slot(std::uint64_t virt) const {
        std::uint64_t table = root_;
        for (int level = 4; level > 1; --level) {
            std::uint64_t raw = memory_.load(table, table_index(virt, level));
            if (!Format::present(raw) || Format::large(raw)) return std::nullopt;
            table = Format::address(raw);
        }
        return Slot{table, table_index(virt, 1)};
    }
    Memory& memory() const { return memory_; }

    // Calls f(LeafMapping) for every present leaf in ascending input-address order.
    template <class F>
    void for_each_leaf(F&& f) const {
        walk(root_, 4, 0, f);
    }

private:
    // The table that entry `index` of `table` points to, creating it if the entry is empty.
    Result<std::uint64_t> next_table(std::uint64_t table, unsigned index, std::uint64_t virt) {
        std::uint64_t raw = memory_.load(table, index);
        if (Format::present(raw)) {
            if (Format::large(raw)) return Error::of("paging: address already mapped by a 2 MiB page", virt);
            return Format::address(raw);
        }
        auto child = memory_.allocate_table();
        if (!child) return child.error();
        memory_.store(table, index, Format::link(*child));
        return *child;
    }

    Status map_one(std::uint64_t virt, std::uint64_t phys, bool large, const Permissions& perm) {
        auto pdpt = next_table(root_, table_index(virt, 4), virt);
        if (!pdpt) return pdpt.error();
        auto pd = next_table(*pdpt, table_index(virt, 3), virt);
        if (!pd) return pd.error();
        std::uint64_t table = *pd;
        unsigned index = table_index(virt, 2);
        if (!large) {
            auto pt = next_table(*pd, index, virt);
            if (!pt) return pt.error();
            table = *pt;
            index = table_index(virt, 1);
        }
        if (Format::present(memory_.load(table, index))) return Error::of("paging: address already mapped", virt);
        memory_.store(table, index, Format::leaf(phys, perm, large));
        return success();
    }

    template <class F>
    void walk(std::uint64_t table, int level, std::uint64_t base, F& f) const {
        for (unsigned i = 0; i < kEntriesPerTable; ++i) {
            std::uint64_t raw = memory_.load(table, i);
            if (!Format::present(raw)) continue;
            std::uint64_t virt = base | (static_cast<std::uint64_t>(i) << (12 + 9 * (level - 1)));
            if (level == 1) {
                f(LeafMapping{virt, kSmallPage, Entry{raw}});
            } else if (level == 2 && Format::large(raw)) {
                f(LeafMapping{virt, kLargePage, Entry{raw}});
            } else {
                walk(Format::address(raw), level - 1, virt, f);
            }
        }
    }

    Memory& memory_;
    std::uint64_t root_ = 0;
};

}  // namespace tandem::x86
