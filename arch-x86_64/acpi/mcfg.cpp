#include "arch-x86_64/acpi/mcfg.hpp"

#include <string_view>

namespace tandem::acpi {
namespace {

// The architectural bound on physical addresses (SDM Vol. 3A §4.1.4, MAXPHYADDR <= 52).
constexpr std::uint64_t kPhysicalLimit = 1ull << 52;

}  // namespace

const EcamRegion* McfgTable::segment0_from_bus0() const {
    for (const EcamRegion& r : region_list()) {
        if (r.segment == 0 && r.start_bus == 0) return &r;
    }
    return nullptr;
}

Result<McfgTable> parse_mcfg(std::span<const std::uint8_t> table) {
    if (table.size() < kMcfgAllocationsOffset) return Error::of("the MCFG is shorter than its 44-byte header", table.size());
    SdtHeader header = decode<SdtHeader>(table);
    if (std::string_view{header.signature, 4} != "MCFG") return Error::of("the table's signature is not \"MCFG\"");
    if (header.length < kMcfgAllocationsOffset) return Error::of("the MCFG length field is below 44", header.length);
    if (header.length > table.size()) return Error::of("the MCFG length field runs past the table", header.length);
    table = table.first(header.length);
    if (byte_sum(table) != 0) return Error::of("the MCFG's bytes do not sum to zero (bad checksum)");
    std::size_t allocations = table.size() - kMcfgAllocationsOffset;
    if (allocations % sizeof(McfgAllocation) != 0) {
        return Error::of("the MCFG length leaves a partial allocation structure", header.length);
    }
    McfgTable out;
    for (std::size_t at = kMcfgAllocationsOffset; at < table.size(); at += sizeof(McfgAllocation)) {
        auto a = decode<McfgAllocation>(table.subspan(at, sizeof(McfgAllocation)));
        if (a.start_bus > a.end_bus) return Error::of("an MCFG region's start bus is above its end bus", a.start_bus);
        if (a.base_address % kEcamBytesPerBus != 0) {
            return Error::of("an MCFG region's base address is not 1 MiB-aligned", a.base_address);
        }
        // base < 2^52 first, so base + 256 MiB cannot wrap.
        if (a.base_address >= kPhysicalLimit || a.base_address + (a.end_bus + 1u) * kEcamBytesPerBus > kPhysicalLimit) {
            return Error::of("an MCFG region lies beyond the 52-bit physical address space", a.base_address);
        }
        if (out.stored < kMaxEcamRegions) out.regions[out.stored++] = {a.base_address, a.segment, a.start_bus, a.end_bus};
        ++out.listed;
    }
    return out;
}

}  // namespace tandem::acpi
