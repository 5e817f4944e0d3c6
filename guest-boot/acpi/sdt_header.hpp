// The identity tandem signs its guest's tables with, and the two steps every description table
// shares: its header (ACPI 6.5 §5.2.6) and, once the table is complete, its checksum.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "guest-boot/acpi/shared_layout.hpp"

namespace tandem::guest_boot::acpi {

inline constexpr char kOemId[6] = {'T', 'A', 'N', 'D', 'E', 'M'};
inline constexpr char kOemTableId[8] = {'T', 'A', 'N', 'D', 'E', 'M', 'V', 'M'};
inline constexpr std::uint32_t kOemRevision = 1;
inline constexpr char kCreatorId[4] = {'T', 'N', 'D', 'M'};
inline constexpr std::uint32_t kCreatorRevision = 1;

inline SdtHeader make_sdt_header(const char (&signature)[5], std::uint32_t length, std::uint8_t revision) {
    SdtHeader h{};
    __builtin_memcpy(h.signature, signature, 4);
    h.length = length;
    h.revision = revision;
    __builtin_memcpy(h.oem_id, kOemId, sizeof kOemId);
    __builtin_memcpy(h.oem_table_id, kOemTableId, sizeof kOemTableId);
    h.oem_revision = kOemRevision;
    __builtin_memcpy(h.creator_id, kCreatorId, sizeof kCreatorId);
    h.creator_revision = kCreatorRevision;
    return h;
}

// Stores the checksum of a complete table (its header's length bytes, checksum field zero).
inline void seal_table(std::span<std::uint8_t> table) {
    table[offsetof(SdtHeader, checksum)] = 0;
    table[offsetof(SdtHeader, checksum)] = checksum_for(table);
}

template <class T>
void store(std::span<std::uint8_t> out, std::size_t offset, const T& value) {
    __builtin_memcpy(out.data() + offset, &value, sizeof(T));
}

}  // namespace tandem::guest_boot::acpi
