// Loads a guest image in ELF format (32- or 64-bit x86 executable) into guest memory at its
// segments' physical addresses. The file is untrusted: the header, the program-header table and
// every segment are checked against the file and against guest memory before a byte is copied.
#pragma once

#include <cstdint>
#include <span>

#include "hypervisor/util/result.hpp"
#include "hypervisor/vm/guest_memory.hpp"

namespace tandem::guest_boot {

enum class ElfClass : std::uint8_t { elf32, elf64 };

struct LoadedElf {
    ElfClass elf_class = ElfClass::elf64;
    std::uint64_t entry = 0;            // physical entry point
    std::uint64_t entry_virtual = 0;    // e_entry as linked
    std::uint64_t lowest = 0;           // lowest physical address loaded
    std::uint64_t highest = 0;          // one past the highest
    std::uint64_t entry_segment_base = 0;  // physical address of the segment holding the entry
    unsigned segments = 0;
};

struct PhysRegion {
    std::uint64_t start;
    std::uint64_t end;
};

// How e_entry is read. An ELF entry point is a virtual address, translated through the segment
// that holds it. Linux's vmlinux is the exception: its segments are linked high, but its entry is
// linked as the physical address of startup_64 (ENTRY(phys_startup_64), arch/x86/kernel/
// vmlinux.lds.S), so `physical_or_virtual` first looks for the entry in a segment's physical range.
enum class EntryAddress : std::uint8_t { virtual_address, physical_or_virtual };

// Checks `file` completely, then copies every PT_LOAD segment (and zeroes its bss part).
// Segments may not overlap each other or `reserved`.
Result<LoadedElf> load_elf(std::span<const std::uint8_t> file, GuestMemory& memory, PhysRegion reserved,
                           EntryAddress entry_address = EntryAddress::virtual_address);

}  // namespace tandem::guest_boot
