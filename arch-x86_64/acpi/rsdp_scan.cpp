#include "arch-x86_64/acpi/rsdp_scan.hpp"

#include "arch-x86_64/acpi/acpi_layout.hpp"
#include "arch-x86_64/acpi/rsdp.hpp"

namespace tandem::acpi {
namespace {

// The EBDA lies in conventional memory just below the 640 KiB line; a segment word pointing
// elsewhere is not an EBDA (or there is none).
constexpr std::uint64_t kEbdaLowest = 0x80000;
constexpr std::uint64_t kEbdaEnd = 0xa0000;

bool search(const boot::PhysicalReader& memory, std::uint64_t start, std::uint64_t length, FoundRsdp& out) {
    std::span<const std::uint8_t> area = memory.bytes(start, length);
    for (std::size_t at = 0; area.size() >= kRsdpV1Size && at <= area.size() - kRsdpV1Size; at += 16) {
        if (std::string_view{reinterpret_cast<const char*>(area.data() + at), 8} != kRsdpSignature) continue;
        std::size_t room = area.size() - at < kMaxRsdpLength ? area.size() - at : kMaxRsdpLength;
        auto rsdp = parse_rsdp(area.subspan(at, room));
        if (!rsdp) continue;  // a stray signature or a broken copy: keep looking, as §5.2.5.1 says
        out = FoundRsdp{start + at, area.subspan(at, rsdp->length)};
        return true;
    }
    return false;
}

}  // namespace

Result<FoundRsdp> find_rsdp_in_bios_areas(const boot::PhysicalReader& memory) {
    FoundRsdp found;
    std::span<const std::uint8_t> pointer = memory.bytes(kEbdaSegmentPointer, 2);
    if (pointer.size() == 2) {
        std::uint64_t ebda = static_cast<std::uint64_t>(pointer[0] | pointer[1] << 8) << 4;
        if (ebda >= kEbdaLowest && ebda + kEbdaSearchLength <= kEbdaEnd && search(memory, ebda, kEbdaSearchLength, found)) {
            return found;
        }
    }
    if (search(memory, kBiosAreaStart, kBiosAreaEnd - kBiosAreaStart, found)) return found;
    return Error::of("no valid RSDP in the EBDA or in the BIOS area 0xe0000-0xfffff");
}

}  // namespace tandem::acpi
