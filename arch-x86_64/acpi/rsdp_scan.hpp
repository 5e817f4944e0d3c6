// Finding the RSDP without a boot loader's copy (ACPI 6.5 §5.2.5.1, IA-PC systems): on a 16-byte
// boundary in the first KiB of the Extended BIOS Data Area (its segment is the word at 0x40E of
// the BIOS data area) or in the BIOS read-only area 0xE0000-0xFFFFF, the first place whose
// signature and checksums are valid. Multiboot 1 (QEMU's -kernel) passes no RSDP; GRUB's
// multiboot 2 tags make this unnecessary, and under UEFI these areas hold nothing.
#pragma once

#include <cstdint>
#include <span>

#include "arch-x86_64/boot/multiboot1.hpp"
#include "hypervisor/util/result.hpp"

namespace tandem::acpi {

inline constexpr std::uint64_t kEbdaSegmentPointer = 0x40e;
inline constexpr std::uint64_t kBiosAreaStart = 0xe0000;
inline constexpr std::uint64_t kBiosAreaEnd = 0x100000;
inline constexpr std::uint64_t kEbdaSearchLength = 1024;

struct FoundRsdp {
    std::uint64_t address = 0;
    std::span<const std::uint8_t> bytes;  // the RSDP: 20 bytes, or its length field for 2.0+
};

Result<FoundRsdp> find_rsdp_in_bios_areas(const boot::PhysicalReader& memory);

}  // namespace tandem::acpi
