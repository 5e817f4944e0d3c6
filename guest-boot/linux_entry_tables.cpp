// The state 64-bit entry needs (boot.rst, 64-bit Boot Protocol): the boot GDT with __BOOT_CS and
// __BOOT_DS, and page tables identity-mapping guest memory from 0, with 2 MiB or 1 GiB pages.
// The checks are separate (check_entry_tables) so prepare_linux_boot can run them before it
// writes anything.
#include "guest-boot/linux_boot.hpp"
#include "guest-boot/linux_boot_detail.hpp"

namespace tandem::guest_boot::linux_boot {

using detail::align_up;
using detail::max;

namespace {

constexpr std::uint64_t kGiB = 1ull << 30;
constexpr std::uint64_t kMaxIdentityMap = 512 * kGiB;  // one PDPT under PML4[0]

// Flat descriptors (SDM Vol. 3A §3.4.5): base 0, limit 4 GiB, present, DPL 0, the accessed bit
// already set so loading a selector never makes the CPU write the GDT. The layout is the test
// guests' (test_guest_abi.hpp) and what boot.rst asks for: __BOOT_CS 0x10, __BOOT_DS 0x18.
constexpr std::uint64_t kGdt[] = {
    0,
    0x00cf9b000000ffffull,  // 0x08: 32-bit code
    0x00af9b000000ffffull,  // 0x10: __BOOT_CS, 64-bit code (L=1, D=0)
    0x00cf93000000ffffull,  // 0x18: __BOOT_DS, data
    0x00008b0000000067ull,  // 0x20: busy 32/64-bit TSS at 0: VMX needs a usable TR; Linux loads its own
};
static_assert(sizeof(kGdt) == kGdtLimit + 1u);

// Paging-structure flags (SDM Vol. 3A §5.5). Accessed and dirty preset, as for the test guests'
// tables (test_guest_boot.cpp): the CPU then never writes these tables, which keeps them out of
// dirty tracking.
constexpr std::uint64_t kPresentWritable = 3, kLarge = 1ull << 7;
constexpr std::uint64_t kAccessed = 1ull << 5, kDirty = 1ull << 6;

Status write_tables(GuestMemory& memory, std::uint64_t at, std::uint64_t size, std::uint64_t gib,
                    IdentityPageSize page_size) {
    if (auto s = memory.fill(at, 0, size); !s) return s;
    for (std::size_t i = 0; i < sizeof(kGdt) / sizeof(kGdt[0]); ++i) {
        if (auto s = memory.store(at + 8 * i, kGdt[i]); !s) return s;
    }
    const std::uint64_t pml4 = at + kPageSize, pdpt = pml4 + kPageSize, pd = pdpt + kPageSize;
    if (auto s = memory.store<std::uint64_t>(pml4, pdpt | kPresentWritable | kAccessed); !s) return s;
    for (std::uint64_t i = 0; i < gib; ++i) {
        std::uint64_t entry = page_size == IdentityPageSize::size_1g
                                  ? (i * kGiB) | kPresentWritable | kLarge | kAccessed | kDirty
                                  : (pd + i * kPageSize) | kPresentWritable | kAccessed;
        if (auto s = memory.store<std::uint64_t>(pdpt + 8 * i, entry); !s) return s;
        if (page_size == IdentityPageSize::size_1g) continue;
        for (std::uint64_t j = 0; j < 512; ++j) {
            std::uint64_t large = (i * kGiB + (j << 21)) | kPresentWritable | kLarge | kAccessed | kDirty;
            if (auto s = memory.store<std::uint64_t>(pd + i * kPageSize + 8 * j, large); !s) return s;
        }
    }
    return success();
}

}  // namespace

Result<std::uint64_t> detail::check_entry_tables(const GuestMemory& memory, std::uint64_t at,
                                                 std::uint64_t capacity, std::uint64_t map_end,
                                                 IdentityPageSize page_size) {
    if (at % kPageSize != 0) return Error::of("entry tables: address is not 4 KiB aligned", at);
    if (map_end > kMaxIdentityMap) {
        return Error::of("entry tables: an identity map beyond 512 GiB is not supported; map end", map_end);
    }
    std::uint64_t size = entry_tables_size(map_end, page_size);
    if (size > capacity) return Error::of("entry tables: more bytes needed than the boot-data layout gives", size);
    if (!memory.contains(at, size)) return Error::of("entry tables: do not fit in guest memory; address", at);
    return size;
}

std::uint64_t entry_tables_size(std::uint64_t map_end, IdentityPageSize page_size) {
    std::uint64_t gib = max(1, align_up(map_end, kGiB) / kGiB);
    // The GDT's page, PML4, PDPT, and one page directory per GiB with 2 MiB pages.
    return kPageSize * (3 + (page_size == IdentityPageSize::size_2m ? gib : 0));
}

Result<EntryTables> write_entry_tables(GuestMemory& memory, std::uint64_t at, std::uint64_t capacity,
                                       std::uint64_t map_end, IdentityPageSize page_size) {
    auto size = detail::check_entry_tables(memory, at, capacity, map_end, page_size);
    if (!size) return size.error();
    std::uint64_t gib = max(1, align_up(map_end, kGiB) / kGiB);
    if (auto s = write_tables(memory, at, *size, gib, page_size); !s) return s.error();
    EntryTables t;
    t.gdt_base = at;
    t.cr3 = at + kPageSize;
    t.mapped_end = gib * kGiB;
    t.size = *size;
    return t;
}

}  // namespace tandem::guest_boot::linux_boot
