// The Root System Description Pointer (ACPI 6.5 §5.2.5.3): the one structure firmware leaves
// for an OS to find the ACPI tables. GRUB copies it into the multiboot 2 information (tags 14
// and 15); tandem validates that copy (or one found in the BIOS areas, rsdp_scan.hpp) before
// following any address in it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "hypervisor/util/result.hpp"

namespace tandem::acpi {

// Bounds an RSDP's length field: ACPI 2.0 to 6.5 define 36 bytes; a length of kilobytes is junk.
inline constexpr std::size_t kMaxRsdpLength = 256;

struct RootPointer {
    std::uint8_t revision = 0;  // 0 (ACPI 1.0) or 2 and later
    char oem_id[6] = {};
    std::uint32_t rsdt_address = 0;
    std::uint64_t xsdt_address = 0;  // 0 for an ACPI 1.0 RSDP
    std::size_t length = 0;          // bytes of the structure: 20, or its length field
};

// Checks the signature and the 20-byte checksum; for revision 2 and later also the length field
// (36 ... kMaxRsdpLength, within `bytes`) and the extended checksum over it. Revision 1 was never
// defined; like other operating systems, tandem reads it as the ACPI 1.0 layout.
Result<RootPointer> parse_rsdp(std::span<const std::uint8_t> bytes);

}  // namespace tandem::acpi
