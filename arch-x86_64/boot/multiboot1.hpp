// Multiboot 1 boot information parser (Multiboot Specification 0.6.96, §3.3), for QEMU's
// -kernel path. Unlike multiboot 2, the information is scattered: the fixed structure points to
// the command line, the module list and the memory map elsewhere in physical memory, so the
// parser reads through a PhysicalReader that refuses ranges it cannot vouch for.
#pragma once

#include <cstdint>
#include <span>

#include "arch-x86_64/boot/boot_info.hpp"
#include "hypervisor/util/result.hpp"

namespace tandem::boot {

inline constexpr std::uint32_t kMultiboot1LoaderMagic = 0x2badb002;  // EAX at entry

class PhysicalReader {
public:
    // The bytes at [phys, phys + length), or an empty span when that range is not readable.
    virtual std::span<const std::uint8_t> bytes(std::uint64_t phys, std::size_t length) const = 0;

protected:
    ~PhysicalReader() = default;
};

Status parse_multiboot1(const PhysicalReader& memory, std::uint64_t info_phys, BootInfo& info);

}  // namespace tandem::boot
