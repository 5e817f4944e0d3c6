#include "arch-x86_64/vmx/guest_page_walk.hpp"

namespace tandem::x86 {
namespace {
constexpr std::uint64_t kCr0Pg = 1ull << 31;
constexpr std::uint64_t kCr4Pse = 1ull << 4, kCr4Pae = 1ull << 5, kCr4La57 = 1ull << 12;
constexpr std::uint64_t kEferLma = 1ull << 10;
constexpr std::uint64_t kPresent = 1, kLarge = 1ull << 7;
constexpr std::uint64_t kAddress = 0x000f'ffff'ffff'f000ull;

Result<std::uint64_t> entry_at(const GuestMemory& m, std::uint64_t gpa) {
    auto e = m.load<std::uint64_t>(gpa);
    if (!e) return e.error();
    if (!(*e & kPresent)) return Error::of("guest page walk: not present at linear address");
    return *e;
}
}  // namespace

Result<std::uint64_t> guest_linear_to_physical(const GuestMemory& m, const GuestPagingState& s, std::uint64_t linear) {
    if (!(s.cr0 & kCr0Pg)) return linear & 0xffffffffull;
    if (s.efer & kEferLma) {
        if (s.cr4 & kCr4La57) return Error::of("guest page walk: 5-level paging is not supported");
        std::uint64_t table = s.cr3 & kAddress;
        for (int level = 4; level >= 1; --level) {
            unsigned shift = 12 + 9 * static_cast<unsigned>(level - 1);
            auto e = entry_at(m, table + 8 * ((linear >> shift) & 0x1ff));
            if (!e) return Error::of(e.error().message, linear);
            if (level == 1 || ((level == 2 || level == 3) && (*e & kLarge))) {
                std::uint64_t page = (1ull << shift) - 1;
                return ((*e & kAddress) & ~page) | (linear & page);
            }
            table = *e & kAddress;
        }
    }
    linear &= 0xffffffffull;
    if (s.cr4 & kCr4Pae) {
        auto pdpte = entry_at(m, (s.cr3 & 0xffffffe0ull) + 8 * (linear >> 30));
        if (!pdpte) return Error::of(pdpte.error().message, linear);
        auto pde = entry_at(m, (*pdpte & kAddress) + 8 * ((linear >> 21) & 0x1ff));
        if (!pde) return Error::of(pde.error().message, linear);
        if (*pde & kLarge) return ((*pde & kAddress) & ~0x1fffffull) | (linear & 0x1fffff);
        auto pte = entry_at(m, (*pde & kAddress) + 8 * ((linear >> 12) & 0x1ff));
        if (!pte) return Error::of(pte.error().message, linear);
        return (*pte & kAddress) | (linear & 0xfff);
    }
    // 32-bit paging: 4-byte entries.
    auto pde = m.load<std::uint32_t>((s.cr3 & 0xfffff000ull) + 4 * (linear >> 22));
    if (!pde || !(*pde & kPresent)) return Error::of("guest page walk: not present at linear address", linear);
    if ((s.cr4 & kCr4Pse) && (*pde & kLarge)) return (*pde & 0xffc00000ull) | (linear & 0x3fffff);
    auto pte = m.load<std::uint32_t>((*pde & 0xfffff000ull) + 4 * ((linear >> 12) & 0x3ff));
    if (!pte || !(*pte & kPresent)) return Error::of("guest page walk: not present at linear address", linear);
    return (*pte & 0xfffff000ull) | (linear & 0xfff);
}

}  // namespace tandem::x86
