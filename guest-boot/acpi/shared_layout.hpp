// The ACPI structures every table reader and writer shares, as they lie in memory (little-endian,
// packed): the Root System Description Pointer (ACPI 6.5 §5.2.5.3), the header every system
// description table starts with (§5.2.6), and the byte checksum ACPI uses everywhere: all bytes
// of a structure, its checksum field included, sum to zero modulo 256.
//
// One definition for both directions: the tables tandem builds for its guest (table_layout.hpp,
// guest_acpi.hpp) and the host firmware's tables the hypervisor parses (arch-x86_64/acpi/, which
// includes this header; guest-boot never includes arch-x86_64). A reader must not trust these
// fields: arch-x86_64/acpi copies a structure out of a span only after checking the span holds it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace tandem::guest_boot::acpi {

// §5.2.5.3, Table 5.3. Revision 0 (ACPI 1.0) has only the first 20 bytes; revision 2 and later
// add the length, the 64-bit XSDT address and a checksum over the whole structure.
struct [[gnu::packed]] Rsdp {
    char signature[8];               // "RSD PTR "
    std::uint8_t checksum;           // bytes [0, 20) sum to zero (the ACPI 1.0 part)
    char oem_id[6];
    std::uint8_t revision;           // 0 (ACPI 1.0) or 2 and later; tandem writes 2
    std::uint32_t rsdt_address;      // tandem writes 0: it gives only an XSDT
    // Revision 2 and later.
    std::uint32_t length;            // of the whole structure (36)
    std::uint64_t xsdt_address;
    std::uint8_t extended_checksum;  // all `length` bytes sum to zero
    std::uint8_t reserved[3];
};
static_assert(sizeof(Rsdp) == 36);
static_assert(offsetof(Rsdp, checksum) == 8);
static_assert(offsetof(Rsdp, oem_id) == 9);
static_assert(offsetof(Rsdp, revision) == 15);
static_assert(offsetof(Rsdp, rsdt_address) == 16);
static_assert(offsetof(Rsdp, length) == 20);
static_assert(offsetof(Rsdp, xsdt_address) == 24);
static_assert(offsetof(Rsdp, extended_checksum) == 32);

inline constexpr std::size_t kRsdpV1Size = offsetof(Rsdp, length);  // 20: what the first checksum covers
inline constexpr std::size_t kRsdpV2Size = sizeof(Rsdp);            // 36
inline constexpr std::string_view kRsdpSignature{"RSD PTR ", 8};

// §5.2.6, Table 5.4: the header of every system description table; `length` includes it.
struct [[gnu::packed]] SdtHeader {
    char signature[4];
    std::uint32_t length;
    std::uint8_t revision;
    std::uint8_t checksum;  // all `length` bytes of the table sum to zero
    char oem_id[6];
    char oem_table_id[8];
    std::uint32_t oem_revision;
    char creator_id[4];
    std::uint32_t creator_revision;
};
static_assert(sizeof(SdtHeader) == 36);
static_assert(offsetof(SdtHeader, length) == 4);
static_assert(offsetof(SdtHeader, revision) == 8);
static_assert(offsetof(SdtHeader, checksum) == 9);
static_assert(offsetof(SdtHeader, oem_id) == 10);
static_assert(offsetof(SdtHeader, oem_table_id) == 16);
static_assert(offsetof(SdtHeader, oem_revision) == 24);
static_assert(offsetof(SdtHeader, creator_id) == 28);
static_assert(offsetof(SdtHeader, creator_revision) == 32);

// The sum of `bytes` modulo 256: zero for a structure whose checksum holds.
constexpr std::uint8_t byte_sum(std::span<const std::uint8_t> bytes) {
    std::uint8_t sum = 0;
    for (std::uint8_t b : bytes) sum = static_cast<std::uint8_t>(sum + b);
    return sum;
}

// The value that makes `bytes` sum to zero modulo 256 when stored in a checksum field that is
// zero while this is computed.
constexpr std::uint8_t checksum_for(std::span<const std::uint8_t> bytes) {
    return static_cast<std::uint8_t>(0x100 - byte_sum(bytes));
}

// True when `bytes` sum to zero modulo 256.
constexpr bool checksum_ok(std::span<const std::uint8_t> bytes) { return byte_sum(bytes) == 0; }

}  // namespace tandem::guest_boot::acpi
