// The ACPI structures tandem reads, as firmware lays them out in memory (little-endian, packed):
// the Root System Description Pointer (ACPI 6.5 §5.2.5.3), the header every description table
// starts with (§5.2.6) and the byte checksum ACPI uses everywhere (all three shared with the
// guest's tables: guest-boot/acpi/shared_layout.hpp), the root tables' entries, and the MCFG
// table's allocation structures (PCI Firmware Specification 3.2 §4.1.2, Tables 4-2 and 4-3).
//
// Everything here comes from firmware and is untrusted: the parsers copy a structure out of a
// span only after checking the span holds it (decode() below), never cast pointers into it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "guest-boot/acpi/shared_layout.hpp"

namespace tandem::acpi {

// The RSDP and the table header (§5.2.5.3, §5.2.6) and the checksum are the ones tandem also
// writes for its guest: one definition, in guest-boot (shared_layout.hpp).
using guest_boot::acpi::byte_sum;
using guest_boot::acpi::kRsdpSignature;
using guest_boot::acpi::kRsdpV1Size;
using guest_boot::acpi::kRsdpV2Size;
using guest_boot::acpi::Rsdp;
using guest_boot::acpi::SdtHeader;

// The RSDT (§5.2.7) lists tables by 32-bit physical addresses, the XSDT (§5.2.8) by 64-bit ones,
// both right after the header; XSDT entries are only 4-byte aligned.
inline constexpr std::size_t kRsdtEntrySize = 4;
inline constexpr std::size_t kXsdtEntrySize = 8;

// PCI Firmware Specification 3.2 §4.1.2, Table 4-3: one ECAM region. `base_address` is where
// bus 0 of the segment would be, even when start_bus is not 0 (the region begins at
// base_address + start_bus * 1 MiB).
struct [[gnu::packed]] McfgAllocation {
    std::uint64_t base_address;
    std::uint16_t segment;
    std::uint8_t start_bus;
    std::uint8_t end_bus;
    std::uint32_t reserved;
};
static_assert(sizeof(McfgAllocation) == 16);
static_assert(offsetof(McfgAllocation, segment) == 8);
static_assert(offsetof(McfgAllocation, start_bus) == 10);
static_assert(offsetof(McfgAllocation, end_bus) == 11);

// Table 4-2: the MCFG is the standard header, 8 reserved bytes, then the allocation structures.
inline constexpr std::size_t kMcfgAllocationsOffset = sizeof(SdtHeader) + 8;
static_assert(kMcfgAllocationsOffset == 44);

// ECAM decodes 1 MiB per bus: 32 devices x 8 functions x 4 KiB (PCI Express Base 4.0 §7.2.2).
inline constexpr std::uint64_t kEcamBytesPerBus = 1ull << 20;

// A table signature ("APIC", "MCFG"), as four raw bytes.
struct Signature {
    char bytes[4] = {};

    constexpr bool operator==(std::string_view s) const {
        return s.size() == 4 && bytes[0] == s[0] && bytes[1] == s[1] && bytes[2] == s[2] && bytes[3] == s[3];
    }
};

// Copies a T out of the first sizeof(T) bytes of `bytes`. A shorter span fills only the fields
// it holds and leaves the rest zero (an ACPI 1.0 RSDP is the first 20 bytes of Rsdp), never a read
// past its end; callers check the size where the missing fields matter.
template <class T>
T decode(std::span<const std::uint8_t> bytes) {
    T value{};
    if (!bytes.empty()) __builtin_memcpy(&value, bytes.data(), bytes.size() < sizeof(T) ? bytes.size() : sizeof(T));
    return value;
}

}  // namespace tandem::acpi
