// Extended page tables (Intel SDM Vol. 3C §29.3): guest-physical -> host-physical translation.
// EPT entries share the 4-level shape of ordinary page tables, so FourLevelTables builds them
// with this format. Memory types: guest RAM write-back, never anything the guest can make
// stronger (ignore-PAT is left clear so the guest's PAT still combines, §29.3.7.2).
#pragma once

#include <cstdint>

#include "arch-x86_64/paging/four_level_tables.hpp"

namespace tandem::x86 {

enum class EptMemoryType : std::uint8_t { uncacheable = 0, write_back = 6 };

struct EptEntry {
    std::uint64_t raw = 0;

    // SDM Vol. 3C Tables 29-1 to 29-6.
    static constexpr std::uint64_t kRead = 1ull << 0;
    static constexpr std::uint64_t kWrite = 1ull << 1;
    static constexpr std::uint64_t kExecute = 1ull << 2;
    static constexpr unsigned kMemoryTypeShift = 3;  // bits 5:3, leaf entries only
    static constexpr std::uint64_t kIgnorePat = 1ull << 6;
    static constexpr std::uint64_t kLargePage = 1ull << 7;
    static constexpr std::uint64_t kAccessed = 1ull << 8;
    static constexpr std::uint64_t kDirty = 1ull << 9;  // leaf entries only
    static constexpr std::uint64_t kAddressMask = 0x000f'ffff'ffff'f000ull;

    constexpr bool readable() const { return raw & kRead; }
    constexpr bool writable() const { return raw & kWrite; }
    constexpr bool executable() const { return raw & kExecute; }
    constexpr bool present() const { return (raw & (kRead | kWrite | kExecute)) != 0; }
    constexpr bool large() const { return raw & kLargePage; }
    constexpr bool accessed() const { return raw & kAccessed; }
    constexpr bool dirty() const { return raw & kDirty; }
    constexpr EptMemoryType memory_type() const {
        return static_cast<EptMemoryType>((raw >> kMemoryTypeShift) & 7);
    }
    constexpr std::uint64_t address() const { return raw & kAddressMask; }
};
static_assert(sizeof(EptEntry) == 8);

struct EptPermissions {
    bool read = true;
    bool write = true;
    bool execute = true;
    EptMemoryType type = EptMemoryType::write_back;
};

inline constexpr EptPermissions kGuestRam{};

struct EptFormat {
    using Entry = EptEntry;
    using Permissions = EptPermissions;
    // A 4-level EPT translates 48-bit guest-physical addresses.
    static constexpr std::uint64_t kInputLimit = 1ull << 48;

    static Status check(const Permissions& perm, std::uint64_t at) {
        // Write without read is an EPT misconfiguration (SDM Vol. 3C §29.3.3.1).
        if (perm.write && !perm.read) return Error::of("ept: write permission without read", at);
        if (!perm.read && !perm.execute) return Error::of("ept: mapping with no access", at);
        return success();
    }
    static std::uint64_t link(std::uint64_t table) { return table | Entry::kRead | Entry::kWrite | Entry::kExecute; }
    static std::uint64_t leaf(std::uint64_t phys, const Permissions& perm, bool large) {
        std::uint64_t bits = static_cast<std::uint64_t>(perm.type) << Entry::kMemoryTypeShift;
        if (perm.read) bits |= Entry::kRead;
        if (perm.write) bits |= Entry::kWrite;
        if (perm.execute) bits |= Entry::kExecute;
        if (large) bits |= Entry::kLargePage;
        return phys | bits;
    }
    static bool present(std::uint64_t raw) { return Entry{raw}.present(); }
    static bool large(std::uint64_t raw) { return raw & Entry::kLargePage; }
    static std::uint64_t address(std::uint64_t raw) { return raw & Entry::kAddressMask; }
};

template <class Memory>
using EptBuilder = FourLevelTables<Memory, EptFormat>;

// The EPT pointer (SDM Vol. 3C §25.6.11): write-back paging structures, 4-level walk, and
// optionally accessed/dirty flags.
constexpr std::uint64_t ept_pointer(std::uint64_t pml4, bool accessed_dirty) {
    return pml4 | 6u /* WB */ | (3u << 3) /* walk length - 1 */ | (accessed_dirty ? 1u << 6 : 0u);
}
static_assert(ept_pointer(0x1000, true) == 0x105e);

}  // namespace tandem::x86
