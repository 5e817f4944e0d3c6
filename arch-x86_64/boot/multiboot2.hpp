// Multiboot 2 boot information parser (Multiboot2 Specification, version 2.0, §3.6).
// The block is untrusted in the sense that a broken loader or a truncated copy must produce a
// clear error, never a fault: every tag, string and table is bounds-checked against the block.
#pragma once

#include <cstdint>
#include <span>

#include "arch-x86_64/boot/boot_info.hpp"
#include "hypervisor/util/result.hpp"

namespace tandem::boot {

inline constexpr std::uint32_t kMultiboot2LoaderMagic = 0x36d76289;  // EAX at entry (§3.3)

// Tag types used (§3.6.3 onwards).
enum class Mb2Tag : std::uint32_t {
    end = 0,
    cmdline = 1,
    loader_name = 2,
    module = 3,
    basic_meminfo = 4,
    bootdev = 5,
    mmap = 6,
    acpi_old = 14,
    acpi_new = 15,
};

// Bounds on what we accept: a GRUB block is a few KiB; anything near this limit is corrupt.
inline constexpr std::uint32_t kMultiboot2MaxBlock = 1u << 20;

// Reads the block's total_size from its first 8 bytes, validated against the limits above.
Result<std::uint32_t> multiboot2_total_size(std::span<const std::uint8_t> header);

// Parses the whole block (physical address phys_base) into info. On error, the message names
// the problem and Error::value holds the byte offset in the block where it was found.
Status parse_multiboot2(std::span<const std::uint8_t> block, std::uint64_t phys_base, BootInfo& info);

}  // namespace tandem::boot
