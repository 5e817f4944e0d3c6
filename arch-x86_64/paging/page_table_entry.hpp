// 4-level IA-32e paging entries (Intel SDM Vol. 3A §5.5, Tables 5-15 to 5-20). One type for
// every level: the same bit positions mean the same thing, except PS, which only PDPT and PD
// entries have.
#pragma once

#include <cstdint>

namespace tandem::x86 {

struct PageTableEntry {
    std::uint64_t raw = 0;

    static constexpr std::uint64_t kPresent = 1ull << 0;
    static constexpr std::uint64_t kWritable = 1ull << 1;
    static constexpr std::uint64_t kUser = 1ull << 2;
    static constexpr std::uint64_t kWriteThrough = 1ull << 3;  // PWT
    static constexpr std::uint64_t kCacheDisable = 1ull << 4;  // PCD
    static constexpr std::uint64_t kAccessed = 1ull << 5;
    static constexpr std::uint64_t kDirty = 1ull << 6;
    static constexpr std::uint64_t kLargePage = 1ull << 7;     // PS in PDPT/PD entries
    static constexpr std::uint64_t kGlobal = 1ull << 8;
    static constexpr std::uint64_t kNoExecute = 1ull << 63;    // needs EFER.NXE
    static constexpr std::uint64_t kAddressMask = 0x000f'ffff'ffff'f000ull;  // bits 51:12

    constexpr bool present() const { return raw & kPresent; }
    constexpr bool writable() const { return raw & kWritable; }
    constexpr bool executable() const { return !(raw & kNoExecute); }
    constexpr bool large() const { return raw & kLargePage; }
    constexpr bool uncached() const { return raw & kCacheDisable; }
    constexpr std::uint64_t address() const { return raw & kAddressMask; }
};
static_assert(sizeof(PageTableEntry) == 8);

// 48-bit virtual addresses: the lower canonical half is what an identity map can use.
inline constexpr std::uint64_t kCanonicalLowerLimit = 1ull << 47;

}  // namespace tandem::x86
