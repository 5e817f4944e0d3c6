// The hypervisor's own page tables: FourLevelTables with IA-32e paging entries. W^X is enforced
// here: a request for writable and executable memory is refused.
#pragma once

#include "arch-x86_64/paging/four_level_tables.hpp"
#include "arch-x86_64/paging/page_table_entry.hpp"

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

struct HostPagingFormat {
    using Entry = PageTableEntry;
    using Permissions = MapPermissions;
    static constexpr std::uint64_t kInputLimit = kCanonicalLowerLimit;

    static Status check(const Permissions& perm, std::uint64_t at) {
        if (perm.writable && perm.executable) return Error::of("paging: refusing a writable+executable mapping", at);
        return success();
    }
    // Non-leaf entries allow everything; the leaf decides (permissions AND across levels).
    static std::uint64_t link(std::uint64_t table) { return table | Entry::kPresent | Entry::kWritable; }
    static std::uint64_t leaf(std::uint64_t phys, const Permissions& perm, bool large) {
        std::uint64_t bits = Entry::kPresent;
        if (perm.writable) bits |= Entry::kWritable;
        if (!perm.executable) bits |= Entry::kNoExecute;
        // PAT entry 3 (PCD=1, PWT=1) is UC in the power-on PAT (SDM Vol. 3A §13.12.4).
        if (perm.cache == CacheMode::uncached) bits |= Entry::kCacheDisable | Entry::kWriteThrough;
        if (large) bits |= Entry::kLargePage;
        return phys | bits;
    }
    static bool present(std::uint64_t raw) { return raw & Entry::kPresent; }
    static bool large(std::uint64_t raw) { return raw & Entry::kLargePage; }
    static std::uint64_t address(std::uint64_t raw) { return raw & Entry::kAddressMask; }
};

template <class Memory>
using PageTableBuilder = FourLevelTables<Memory, HostPagingFormat>;
using LeafMapping = Leaf<PageTableEntry>;

}  // namespace tandem::x86
