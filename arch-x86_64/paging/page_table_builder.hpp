// Builds IA-32e page tables. A template over where tables live (the Memory policy), so the
// very code that builds the hypervisor's own address space runs in host tests against a fake
// memory that records every store.
//
// Memory policy:
//   Result<std::uint64_t> allocate_table();               // a zeroed 4 KiB frame
//   std::uint64_t load(std::uint64_t table, unsigned i) const;
//   void store(std::uint64_t table, unsigned i, std::uint64_t value);
//
// Ordering: a new table is zeroed before the entry that links it is stored, and every entry is
// written with one 64-bit store, so a walker never sees a half-built path.
#pragma once

#include <cstdint>
#include <optional>

#include "arch-x86_64/paging/page_table_entry.hpp"
#include "hypervisor/util/result.hpp"

namespace tandem::x86 {

enum class CacheMode { write_back, uncached };

struct MapPermissions {
    bool writable = false;
    bool executable = false;
    CacheMode cache = CacheMode::write_back;
};

inline constexpr MapPermissions kText{false, true, CacheMode::write_back};
inline constexpr MapPermissions kReadOnlyData{false, false, CacheMode::write_back};
inline constexpr MapPermissions kReadWriteData{true, false, CacheMode::write_back};
inline constexpr MapPermissions kDeviceMemory{true, false, CacheMode::uncached};

struct LeafMapping {
    std::uint64_t virt;
    std::uint64_t size;  // 4 KiB or 2 MiB
    PageTableEntry entry;
};

template <class Memory>
class PageTableBuilder {
public:
    explicit PageTableBuilder(Memory& memory) : memory_(memory) {}

    Status create_root() {
        auto root = memory_.allocate_table();
        if (!root) return root.error();
        root_ = *root;
        return success();
    }
    std::uint64_t root() const { return root_; }

    // Maps [virt, virt + size) to [phys, ...). Both page-aligned; 2 MiB pages wherever both
    // sides are 2 MiB-aligned and at least 2 MiB remain. W^X is enforced here: a request for
    // writable and executable memory is refused.
    Status map(std::uint64_t virt, std::uint64_t phys, std::uint64_t size, MapPermissions perm) {
        if (perm.writable && perm.executable) return Error::of("paging: refusing a writable+executable mapping", virt);
        if (virt % kSmallPage != 0 || phys % kSmallPage != 0 || size % kSmallPage != 0) {
            return Error::of("paging: mapping is not page-aligned", virt);
        }
        if (virt + size < virt || virt + size > kCanonicalLowerLimit) {
            return Error::of("paging: mapping leaves the lower canonical half", virt);
        }
        if (phys + size < phys || phys + size > (PageTableEntry::kAddressMask | 0xfff) + 1) {
            return Error::of("paging: physical address beyond 52 bits", phys);
        }
        while (size != 0) {
            bool large = virt % kLargePage == 0 && phys % kLargePage == 0 && size >= kLargePage;
            Status s = map_one(virt, phys, large, perm);
            if (!s) return s;
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
            PageTableEntry e{memory_.load(table, table_index(virt, level))};
            if (!e.present()) return std::nullopt;
            if (level == 1) return LeafMapping{virt & ~(kSmallPage - 1), kSmallPage, e};
            if (level == 2 && e.large()) return LeafMapping{virt & ~(kLargePage - 1), kLargePage, e};
            table = e.address();
        }
        return std::nullopt;
    }

    // Calls f(LeafMapping) for every present leaf in ascending virtual order.
    template <class F>
    void for_each_leaf(F&& f) const {
        walk(root_, 4, 0, f);
    }

private:
    static constexpr std::uint64_t kTableLink = PageTableEntry::kPresent | PageTableEntry::kWritable;

    static std::uint64_t leaf_bits(MapPermissions perm, bool large) {
        std::uint64_t bits = PageTableEntry::kPresent;
        if (perm.writable) bits |= PageTableEntry::kWritable;
        if (!perm.executable) bits |= PageTableEntry::kNoExecute;
        // PAT entry 3 (PCD=1, PWT=1) is UC in the power-on PAT (SDM Vol. 3A §13.12.4).
        if (perm.cache == CacheMode::uncached) bits |= PageTableEntry::kCacheDisable | PageTableEntry::kWriteThrough;
        if (large) bits |= PageTableEntry::kLargePage;
        return bits;
    }

    // The table that entry `index` of `table` points to, creating it if the entry is empty.
    Result<std::uint64_t> next_table(std::uint64_t table, unsigned index, std::uint64_t virt) {
        PageTableEntry e{memory_.load(table, index)};
        if (e.present()) {
            if (e.large()) return Error::of("paging: address already mapped by a 2 MiB page", virt);
            return e.address();
        }
        auto child = memory_.allocate_table();
        if (!child) return child.error();
        memory_.store(table, index, *child | kTableLink);
        return *child;
    }

    Status map_one(std::uint64_t virt, std::uint64_t phys, bool large, MapPermissions perm) {
        auto pdpt = next_table(root_, table_index(virt, 4), virt);
        if (!pdpt) return pdpt.error();
        auto pd = next_table(*pdpt, table_index(virt, 3), virt);
        if (!pd) return pd.error();
        if (large) {
            unsigned i = table_index(virt, 2);
            if (PageTableEntry{memory_.load(*pd, i)}.present()) return Error::of("paging: address already mapped", virt);
            memory_.store(*pd, i, phys | leaf_bits(perm, true));
            return success();
        }
        auto pt = next_table(*pd, table_index(virt, 2), virt);
        if (!pt) return pt.error();
        unsigned i = table_index(virt, 1);
        if (PageTableEntry{memory_.load(*pt, i)}.present()) return Error::of("paging: address already mapped", virt);
        memory_.store(*pt, i, phys | leaf_bits(perm, false));
        return success();
    }

    template <class F>
    void walk(std::uint64_t table, int level, std::uint64_t base, F& f) const {
        for (unsigned i = 0; i < kEntriesPerTable; ++i) {
            PageTableEntry e{memory_.load(table, i)};
            if (!e.present()) continue;
            std::uint64_t virt = base | (static_cast<std::uint64_t>(i) << (12 + 9 * (level - 1)));
            if (level == 1) {
                f(LeafMapping{virt, kSmallPage, e});
            } else if (level == 2 && e.large()) {
                f(LeafMapping{virt, kLargePage, e});
            } else {
                walk(e.address(), level - 1, virt, f);
            }
        }
    }

    Memory& memory_;
    std::uint64_t root_ = 0;
};

}  // namespace tandem::x86
