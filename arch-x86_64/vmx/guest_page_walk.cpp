#include "arch-x86_64/vmx/guest_page_walk.hpp"

namespace tandem::x86 {
namespace {
constexpr std::uint64_t kCr0Pg = 1ull << 31;
constexpr std::uint64_t kCr4Pse = 1ull << 4, kCr4Pae = 1ull << 5, kCr4La57 = 1ull << 12;
constexpr std::uint64_t kEferLma = 1ull << 10, kEferNxe = 1ull << 11;
constexpr std::uint64_t kPresent = 1, kLarge = 1ull << 7, kExecuteDisable = 1ull << 63;
constexpr std::uint64_t kAddress = 0x000f'ffff'ffff'f000ull;
// Reserved bits whatever the processor's physical-address width (SDM Vol. 3A §5.3-§5.5, the entry
// formats):
// PS in a PML4E, the address bits below a 1 GiB or 2 MiB page's base (bit 12 is its PAT bit),
// bits 2:1 and 8:5 of a PAE PDPTE, XD without EFER.NXE. Where hardware would raise #PF with the
// RSVD bit, the walk refuses too: tandem never reads instruction bytes the guest could not fetch.
constexpr std::uint64_t kReservedPml4e = kLarge;
constexpr std::uint64_t kReserved1GiB = 0x3fff'e000ull;  // bits 29:13
constexpr std::uint64_t kReserved2MiB = 0x001f'e000ull;  // bits 20:13
constexpr std::uint64_t kReservedPaePdpte = 0x1e6ull | kExecuteDisable;  // bits 2:1, 8:5, 63
constexpr std::uint32_t kReserved4MiB = 1u << 21;        // 32-bit paging with PSE
constexpr const char* kNotPresent = "guest page walk: not present at linear address";
constexpr const char* kReserved = "guest page walk: reserved bit set at linear address";

// The entry at gpa; not present, or one of `reserved` set, is an error (which the caller names
// with the linear address).
Result<std::uint64_t> entry_at(const GuestMemory& m, std::uint64_t gpa, std::uint64_t reserved) {
    auto e = m.load<std::uint64_t>(gpa);
    if (!e) return e.error();
    if (!(*e & kPresent)) return Error::of(kNotPresent);
    if (*e & reserved) return Error::of(kReserved);
    return *e;
}
}  // namespace

Result<std::uint64_t> guest_linear_to_physical(const GuestMemory& m, const GuestPagingState& s, std::uint64_t linear) {
    if (!(s.cr0 & kCr0Pg)) return linear & 0xffffffffull;
    const std::uint64_t xd = (s.efer & kEferNxe) ? 0 : kExecuteDisable;
    if (s.efer & kEferLma) {
        if (s.cr4 & kCr4La57) return Error::of("guest page walk: 5-level paging is not supported");
        std::uint64_t table = s.cr3 & kAddress;
        for (int level = 4; level >= 1; --level) {
            unsigned shift = 12 + 9 * static_cast<unsigned>(level - 1);
            auto e = entry_at(m, table + 8 * ((linear >> shift) & 0x1ff), xd | (level == 4 ? kReservedPml4e : 0));
            if (!e) return Error::of(e.error().message, linear);
            bool large = (level == 2 || level == 3) && (*e & kLarge);
            if (large && (*e & (level == 3 ? kReserved1GiB : kReserved2MiB))) return Error::of(kReserved, linear);
            if (level == 1 || large) {
                std::uint64_t page = (1ull << shift) - 1;
                return ((*e & kAddress) & ~page) | (linear & page);
            }
            table = *e & kAddress;
        }
    }
    linear &= 0xffffffffull;
    if (s.cr4 & kCr4Pae) {
        auto pdpte = entry_at(m, (s.cr3 & 0xffffffe0ull) + 8 * (linear >> 30), kReservedPaePdpte);
        if (!pdpte) return Error::of(pdpte.error().message, linear);
        auto pde = entry_at(m, (*pdpte & kAddress) + 8 * ((linear >> 21) & 0x1ff), xd);
        if (!pde) return Error::of(pde.error().message, linear);
        if (*pde & kLarge) {
            if (*pde & kReserved2MiB) return Error::of(kReserved, linear);
            return ((*pde & kAddress) & ~0x1fffffull) | (linear & 0x1fffff);
        }
        auto pte = entry_at(m, (*pde & kAddress) + 8 * ((linear >> 12) & 0x1ff), xd);
        if (!pte) return Error::of(pte.error().message, linear);
        return (*pte & kAddress) | (linear & 0xfff);
    }
    // 32-bit paging: 4-byte entries.
    auto pde = m.load<std::uint32_t>((s.cr3 & 0xfffff000ull) + 4 * (linear >> 22));
    if (!pde || !(*pde & kPresent)) return Error::of(kNotPresent, linear);
    if ((s.cr4 & kCr4Pse) && (*pde & kLarge)) {
        // A 4 MiB page: bits 31:22 of its address, and with PSE-36 bits 39:32 in entry bits 20:13.
        if (*pde & kReserved4MiB) return Error::of(kReserved, linear);
        std::uint64_t high = static_cast<std::uint64_t>((*pde >> 13) & 0xff) << 32;
        return high | (*pde & 0xffc00000ull) | (linear & 0x3fffff);
    }
    auto pte = m.load<std::uint32_t>((*pde & 0xfffff000ull) + 4 * ((linear >> 12) & 0x3ff));
    if (!pte || !(*pte & kPresent)) return Error::of(kNotPresent, linear);
    return (*pte & 0xfffff000ull) | (linear & 0xfff);
}

}  // namespace tandem::x86
