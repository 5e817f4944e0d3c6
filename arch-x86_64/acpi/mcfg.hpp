// The MCFG table (PCI Firmware Specification 3.2 §4.1.2): where each PCI segment's enhanced
// configuration space (ECAM) lies in physical memory and which buses it decodes. tandem
// enumerates segment 0 only; regions of other segments are parsed and reported, not used.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "arch-x86_64/acpi/acpi_layout.hpp"
#include "hypervisor/util/result.hpp"

namespace tandem::acpi {

struct EcamRegion {
    std::uint64_t base = 0;  // where bus 0 of the segment would be (Table 4-3)
    std::uint16_t segment = 0;
    std::uint8_t start_bus = 0;
    std::uint8_t end_bus = 0;

    // The memory the region decodes: buses start_bus..end_bus, 1 MiB each.
    std::uint64_t first_byte() const { return base + start_bus * kEcamBytesPerBus; }
    std::uint64_t size() const { return (end_bus - start_bus + 1u) * kEcamBytesPerBus; }
};

// Real machines list one region per segment; beyond this many, the rest are counted only.
inline constexpr std::size_t kMaxEcamRegions = 16;

struct McfgTable {
    EcamRegion regions[kMaxEcamRegions]{};
    std::size_t stored = 0;
    std::size_t listed = 0;  // how many the table lists, stored or not

    std::span<const EcamRegion> region_list() const { return {regions, stored}; }
    // The segment-0 region that decodes bus 0 (where enumeration starts), if any.
    const EcamRegion* segment0_from_bus0() const;
};

// `table` is the whole MCFG (e.g. Table::bytes from find_table). Checks the signature, the length
// field against the bytes given, the checksum, that the allocations fill the table exactly, and
// each region: start bus <= end bus, base 1 MiB-aligned (ECAM decodes whole buses), the region
// below the 52-bit physical address limit.
Result<McfgTable> parse_mcfg(std::span<const std::uint8_t> table);

}  // namespace tandem::acpi
