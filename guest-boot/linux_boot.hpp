// Booting an unmodified Linux kernel through the x86 boot protocol's 64-bit entry
// (Documentation/arch/x86/boot.rst, "64-bit Boot Protocol"), as Firecracker and cloud-hypervisor
// do: no real-mode setup code and no BIOS runs; tandem loads the kernel, writes the zero page
// (struct boot_params) with the command line, the initrd and an e820 memory map, and enters the
// kernel in 64-bit mode with identity paging.
//
// Two kernel formats:
//  - a bzImage: the protected-mode part (everything after the setup code) is loaded at a
//    kernel_alignment-aligned address; the 64-bit entry is the load address + 0x200 (the
//    decompressor's startup_64). Debian's kernel decompresses itself (xz) first.
//  - an uncompressed vmlinux (ELF64, tools/extract_vmlinux): segments at their physical
//    addresses (p_paddr); the entry is startup_64 itself. Linux links e_entry as that physical
//    address (ENTRY(phys_startup_64) in arch/x86/kernel/vmlinux.lds.S); a virtual e_entry is
//    translated through its segment. The setup header it lacks is synthesised.
//
// The guest state at entry (boot.rst, 64-bit Boot Protocol; what LinuxEntryState carries):
//  - 64-bit mode (CR0.PE|PG, CR4.PAE, EFER.LME|LMA), paging with CR3 = the identity map written
//    by write_entry_tables, which covers the kernel from its load address to init_size, the zero
//    page, the command line and the initrd;
//  - GDTR = the GDT written there: CS = __BOOT_CS (0x10, 64-bit flat code, execute/read),
//    DS = ES = SS = __BOOT_DS (0x18, flat read/write data), FS = GS = 0x18 too; TR = 0x20 (a busy
//    TSS, base 0, limit 0x67, which VMX requires and Linux replaces); the same layout as the test
//    guests' GDT (guest-boot/test_guest_abi.hpp), so the same VMCS segment state fits both;
//  - RFLAGS = 0x2 (interrupts off), RSI = the zero page's address, RSP = a small stack in the
//    boot-data area (Linux sets its own stack at once), every other GPR zero; IDTR limit 0.
// Pass "nokaslr" on the command line of a bzImage: its decompressor would otherwise choose a
// random physical address (RDRAND/RDTSC entropy), and two replicas must run the same.
//
// Every length, offset and address in the image and in the request is checked before guest
// memory is written: a refused request leaves guest memory as it was.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "guest-boot/elf_loader.hpp"
#include "guest-boot/linux_boot_params.hpp"
#include "hypervisor/util/result.hpp"
#include "hypervisor/vm/guest_memory.hpp"

namespace tandem::guest_boot::linux_boot {

// 2.12 introduced xloadflags, which is what says a 64-bit entry exists (boot.rst).
inline constexpr std::uint16_t kMinimumProtocol = 0x020c;
inline constexpr std::uint64_t kEntry64Offset = 0x200;
inline constexpr std::uint64_t kPageSize = 0x1000;

// Segment selectors of the boot GDT (boot.rst: __BOOT_CS 0x10, __BOOT_DS 0x18).
inline constexpr std::uint16_t kSelectorCode32 = 0x08;
inline constexpr std::uint16_t kBootCs = 0x10;
inline constexpr std::uint16_t kBootDs = 0x18;
inline constexpr std::uint16_t kSelectorTss = 0x20;
inline constexpr std::uint16_t kGdtLimit = kSelectorTss + 7;

// ---- bzImage -------------------------------------------------------------------------------

// A checked bzImage: its setup header and views into the file.
struct BzImage {
    SetupHeader header{};                          // as the file has it; bytes past its own end are 0
    std::size_t header_end = 0;                    // file offset where the header ends (0x202 + jump)
    std::uint32_t setup_size = 0;                  // boot sector + setup code: (setup_sects + 1) * 512
    std::span<const std::uint8_t> protected_mode;  // what is loaded: the file after the setup code
    std::span<const std::uint8_t> payload;         // the compressed vmlinux (empty if payload_offset is 0)
    std::string_view version;                      // the kernel's version string, or empty
};

// Checks boot flag, "HdrS", protocol >= 2.12, XLF_KERNEL_64, LOADED_HIGH, and every size and
// offset (setup_sects, syssize, payload, kernel_alignment, init_size, cmdline_size) against the file.
Result<BzImage> parse_bzimage(std::span<const std::uint8_t> file);

// Where a bzImage goes unless the caller knows better: pref_address (16 MiB for Debian's kernel).
std::uint64_t default_load_address(const BzImage& image);

// ---- loaded kernels ------------------------------------------------------------------------

enum class KernelFormat : std::uint8_t { bzimage, vmlinux };

struct LoadedKernel {
    KernelFormat format = KernelFormat::bzimage;
    SetupHeader header{};        // the setup header the zero page starts from
    std::uint64_t entry64 = 0;   // guest-physical RIP at entry
    std::uint64_t start = 0;     // load address: the lowest byte loaded
    std::uint64_t end = 0;       // one past the last byte loaded (vmlinux: including bss)
    std::uint64_t reserve_end = 0;  // one past what the kernel uses before it reads the e820 map
};

// Loads a parsed bzImage's protected-mode kernel at load_address: a multiple of kernel_alignment
// (pref_address for a kernel that is not relocatable). [load, load + init_size) must fit in guest
// memory and stay clear of `reserved` (tandem's boot data).
Result<LoadedKernel> load_bzimage(const BzImage& image, GuestMemory& memory, std::uint64_t load_address,
                                  PhysRegion reserved);

// Loads an uncompressed vmlinux (ELF64 x86-64) at its segments' physical addresses and
// synthesises the setup header (version 2.15, loader 0xff, LOADED_HIGH | CAN_USE_HEAP,
// XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G, 2 MiB kernel_alignment, init_size = the loaded
// extent, cmdline_size 2047, initrd_addr_max 0x7fffffff as Debian's bzImage says).
Result<LoadedKernel> load_vmlinux(std::span<const std::uint8_t> file, GuestMemory& memory, PhysRegion reserved);

// The header load_vmlinux gives a kernel loaded at [start, end).
SetupHeader vmlinux_setup_header(std::uint64_t start, std::uint64_t end);

// ---- the guest's memory map ----------------------------------------------------------------

// One range of the guest-physical address space as the caller's EPT layout has it: RAM, or
// reserved (the legacy hole [640 KiB, 1 MiB), MMIO windows such as virtio-mmio, IOAPIC, LAPIC).
struct MemoryRange {
    std::uint64_t start;
    std::uint64_t size;
    E820Type type;
};

// Checks a map: at most 128 ranges, none empty, wrapping or overlapping another, known types,
// RAM only inside guest memory, and at least two entries after adjacent ranges of one type are
// merged (Linux ignores a shorter e820 table and falls back to a guess). Returns the entry count.
Result<unsigned> check_memory_map(std::span<const MemoryRange> map, std::uint64_t guest_ram_size);

// ---- GDT and identity paging ---------------------------------------------------------------

enum class IdentityPageSize : std::uint8_t { size_2m, size_1g };  // 1 GiB pages need CPUID pdpe1gb

struct EntryTables {
    std::uint64_t gdt_base = 0;
    std::uint16_t gdt_limit = kGdtLimit;
    std::uint64_t cr3 = 0;          // the PML4
    std::uint64_t mapped_end = 0;   // [0, mapped_end) is identity-mapped
    std::uint64_t size = 0;         // bytes used from `at`
};

// Bytes write_entry_tables needs to map [0, map_end) (rounded up to whole GiB, at most 512 GiB).
std::uint64_t entry_tables_size(std::uint64_t map_end, IdentityPageSize page_size);

// Writes at `at` (4 KiB aligned): the boot GDT in the first page, then PML4, PDPT and (2 MiB
// pages) one page directory per GiB, identity-mapping [0, map_end rounded up to 1 GiB),
// writable, with accessed and dirty flags preset so the CPU never writes these tables.
Result<EntryTables> write_entry_tables(GuestMemory& memory, std::uint64_t at, std::uint64_t capacity,
                                       std::uint64_t map_end, IdentityPageSize page_size);

// ---- the zero page and the rest of the boot data -------------------------------------------

// Where tandem puts its boot data. The defaults fill [0x1000, 0x10000), the range test guests
// reserve too (test_guest_abi.hpp), inside the first RAM range of the usual map.
struct BootDataLayout {
    std::uint64_t tables = 0x1000;             // GDT, then the page tables
    std::uint64_t tables_capacity = 0x8000;    // 2 MiB pages: up to 6 GiB identity-mapped
    std::uint64_t boot_params = 0x9000;        // the zero page (4 KiB)
    std::uint64_t command_line = 0xa000;
    std::uint64_t command_line_capacity = 0x1000;  // including the NUL
    std::uint64_t stack_top = 0x10000;         // a 4 KiB stack for entry below it
};

// [lowest, highest) of what a layout uses: the `reserved` region for load_bzimage/load_vmlinux.
PhysRegion boot_data_region(const BootDataLayout& layout);

struct LinuxBootRequest {
    std::string_view command_line;
    std::span<const std::uint8_t> initrd;       // empty: no initrd
    std::span<const MemoryRange> memory_map;
    std::uint64_t acpi_rsdp = 0;                // 0: the kernel scans for the RSDP itself
    IdentityPageSize page_size = IdentityPageSize::size_2m;
    BootDataLayout layout{};
};

// What the caller puts in the VMCS and the GPRs (see the top of this file), and what was placed.
struct LinuxEntryState {
    std::uint64_t rip = 0;
    std::uint64_t rsi = 0;          // the zero page
    std::uint64_t rsp = 0;
    std::uint64_t cr3 = 0;
    std::uint64_t gdt_base = 0;
    std::uint16_t gdt_limit = kGdtLimit;
    std::uint64_t identity_mapped_end = 0;
    std::uint64_t command_line = 0;
    std::uint64_t initrd_start = 0;
    std::uint64_t initrd_size = 0;
    unsigned e820_entries = 0;
};

// Checks the request against the kernel and guest memory (command line against cmdline_size and
// its buffer; the map; the kernel inside one RAM range; the boot-data areas inside guest memory,
// apart from each other and clear of the kernel's [start, reserve_end)), places the
// initrd at the highest page-aligned RAM address where it ends at or below initrd_addr_max and
// clear of the kernel's [start, reserve_end) and of the boot data, then writes the initrd, the
// command line, the zero page and the entry tables.
Result<LinuxEntryState> prepare_linux_boot(GuestMemory& memory, const LoadedKernel& kernel,
                                           const LinuxBootRequest& request);

}  // namespace tandem::guest_boot::linux_boot
