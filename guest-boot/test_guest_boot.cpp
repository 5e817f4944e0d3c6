#include "guest-boot/test_guest_boot.hpp"

#include "guest-boot/test_guest_abi.hpp"

namespace tandem::guest_boot {
namespace {
namespace abi = tandem::guest_abi;

// Flat descriptors (SDM Vol. 3A §3.4.5): base 0, limit 4 GiB, present, DPL 0.
constexpr std::uint64_t kGdt[5] = {
    0,
    0x00cf9a000000ffffull,  // 0x08: 32-bit code
    0x00af9a000000ffffull,  // 0x10: 64-bit code
    0x00cf92000000ffffull,  // 0x18: data
    0x00008b0000000067ull,  // 0x20: busy 32/64-bit TSS at 0 (never used: no task switches)
};
static_assert(sizeof(kGdt) / 8 * 8 == abi::kSelectorTss + 8);

constexpr std::uint64_t kPresentWritable = 3;
constexpr std::uint64_t kLarge = 1ull << 7;
// Accessed and dirty flags set up front (as Linux does for its own early tables): the CPU never
// has to write them back into these tables. That keeps them out of every epoch's dirty set, and
// sidesteps an emulator difference: Bochs sets guest paging-structure A/D flags without the EPT
// write check when EPT A/D flags are off, which would escape write-protection dirty tracking.
constexpr std::uint64_t kAccessed = 1ull << 5, kDirty = 1ull << 6;
}  // namespace

const char* entry_mode_name(EntryMode mode) {
    switch (mode) {
        case EntryMode::real16: return "real mode";
        case EntryMode::protected32: return "32-bit protected mode";
        case EntryMode::long64: return "64-bit long mode";
    }
    return "?";
}

Status write_test_guest_boot_data(GuestMemory& memory, std::string_view cmdline, EntryMode mode) {
    if (cmdline.size() >= abi::kCommandLineMax) {
        return Error::of("test guest: command line longer than the guest's buffer", cmdline.size());
    }
    if (!memory.contains(0, abi::kReservedEnd)) return Error::of("test guest: guest memory too small for boot data");
    if (auto s = memory.fill(abi::kReservedStart, 0, abi::kReservedEnd - abi::kReservedStart); !s) return s;
    for (std::size_t i = 0; i < 5; ++i) {
        if (auto s = memory.store(abi::kGdt + 8 * i, kGdt[i]); !s) return s;
    }
    if (auto s = memory.write(abi::kCommandLine, {reinterpret_cast<const std::uint8_t*>(cmdline.data()), cmdline.size()});
        !s) {
        return s;
    }
    if (mode != EntryMode::long64) return success();

    // Identity map of the first 4 GiB with 2 MiB pages: PML4[0] -> PDPT, PDPT[0..3] -> 4 PDs.
    constexpr std::uint64_t pml4 = abi::kPageTables, pdpt = pml4 + 0x1000, pd = pdpt + 0x1000;
    static_assert(pd + 4 * 0x1000 == abi::kPageTablesEnd);
    if (auto s = memory.store<std::uint64_t>(pml4, pdpt | kPresentWritable | kAccessed); !s) return s;
    for (std::uint64_t i = 0; i < 4; ++i) {
        if (auto s = memory.store<std::uint64_t>(pdpt + 8 * i, (pd + 0x1000 * i) | kPresentWritable | kAccessed); !s) {
            return s;
        }
    }
    for (std::uint64_t i = 0; i < 2048; ++i) {
        std::uint64_t entry = (i << 21) | kPresentWritable | kLarge | kAccessed | kDirty;
        if (auto s = memory.store<std::uint64_t>(pd + 8 * i, entry); !s) return s;
    }
    return success();
}

}  // namespace tandem::guest_boot
