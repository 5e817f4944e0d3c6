// The wire layouts of the Linux x86 boot protocol: the setup header a bzImage carries at file
// offset 0x1f1 (Documentation/arch/x86/boot.rst, "The Real-Mode Kernel Header") and the 4 KiB
// struct boot_params, the "zero page", that the boot loader hands the kernel in RSI
// (Documentation/arch/x86/zero-page.rst; arch/x86/include/uapi/asm/bootparam.h). The kernel
// reads these bytes as they are, so every offset that tandem writes is checked here.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tandem::guest_boot::linux_boot {

// Offsets inside a bzImage file (boot.rst).
inline constexpr std::size_t kSetupHeaderOffset = 0x1f1;
inline constexpr std::size_t kJumpOffset = 0x200;     // "EB xx": the header ends at 0x202 + xx
inline constexpr std::size_t kSectorSize = 512;       // "a sector" is always 512 bytes here
inline constexpr std::uint16_t kBootFlag = 0xaa55;
inline constexpr std::uint32_t kHeaderMagic = 0x53726448;  // "HdrS"

// loadflags (boot.rst, "loadflags").
inline constexpr std::uint8_t kLoadedHigh = 1u << 0;   // protected-mode code at 0x100000: a bzImage
inline constexpr std::uint8_t kKaslrFlag = 1u << 1;    // kernel internal
inline constexpr std::uint8_t kQuietFlag = 1u << 5;
inline constexpr std::uint8_t kKeepSegments = 1u << 6; // obsolete
inline constexpr std::uint8_t kCanUseHeap = 1u << 7;   // heap_end_ptr is valid
// xloadflags (protocol 2.12+).
inline constexpr std::uint16_t kXlfKernel64 = 1u << 0;  // the legacy 64-bit entry at load + 0x200
inline constexpr std::uint16_t kXlfCanBeLoadedAbove4g = 1u << 1;
// type_of_loader: 0xff is "undefined", what a boot loader without an assigned id writes.
inline constexpr std::uint8_t kLoaderUndefined = 0xff;
// vid_mode "normal" (boot.rst, "Special Command Line Options": vga=normal).
inline constexpr std::uint16_t kVidModeNormal = 0xffff;

// struct setup_header: from 0x1f1 to 0x26c in the file, and at the same offset in boot_params.
// Field names as in bootparam.h; "proto" is the protocol version that introduced the field.
struct [[gnu::packed]] SetupHeader {
    std::uint8_t setup_sects;            // 0x1f1 ALL: setup size in sectors (0 means 4)
    std::uint16_t root_flags;            // 0x1f2
    std::uint32_t syssize;               // 0x1f4 2.04+: protected-mode size in 16-byte paragraphs
    std::uint16_t ram_size;              // 0x1f8 obsolete
    std::uint16_t vid_mode;              // 0x1fa
    std::uint16_t root_dev;              // 0x1fc
    std::uint16_t boot_flag;             // 0x1fe: 0xaa55
    std::uint16_t jump;                  // 0x200 2.00+
    std::uint32_t header;                // 0x202 2.00+: "HdrS"
    std::uint16_t version;               // 0x206 2.00+: (major << 8) | minor
    std::uint32_t realmode_swtch;        // 0x208
    std::uint16_t start_sys_seg;         // 0x20c obsolete
    std::uint16_t kernel_version;        // 0x20e: offset of the version string, less 0x200
    std::uint8_t type_of_loader;         // 0x210 write
    std::uint8_t loadflags;              // 0x211 modify
    std::uint16_t setup_move_size;       // 0x212
    std::uint32_t code32_start;          // 0x214 modify (reloc)
    std::uint32_t ramdisk_image;         // 0x218 write
    std::uint32_t ramdisk_size;          // 0x21c write
    std::uint32_t bootsect_kludge;       // 0x220 obsolete
    std::uint16_t heap_end_ptr;          // 0x224 2.01+
    std::uint8_t ext_loader_ver;         // 0x226 2.02+
    std::uint8_t ext_loader_type;        // 0x227 2.02+
    std::uint32_t cmd_line_ptr;          // 0x228 2.02+
    std::uint32_t initrd_addr_max;       // 0x22c 2.03+: highest byte an initrd may occupy
    std::uint32_t kernel_alignment;      // 0x230 2.05+
    std::uint8_t relocatable_kernel;     // 0x234 2.05+
    std::uint8_t min_alignment;          // 0x235 2.10+: log2 of the minimum alignment
    std::uint16_t xloadflags;            // 0x236 2.12+
    std::uint32_t cmdline_size;          // 0x238 2.06+: longest command line, without its NUL
    std::uint32_t hardware_subarch;      // 0x23c 2.07+
    std::uint64_t hardware_subarch_data; // 0x240 2.07+
    std::uint32_t payload_offset;        // 0x248 2.08+: from the start of the protected-mode code
    std::uint32_t payload_length;        // 0x24c 2.08+
    std::uint64_t setup_data;            // 0x250 2.09+
    std::uint64_t pref_address;          // 0x258 2.10+
    std::uint32_t init_size;             // 0x260 2.10+: memory the kernel needs from its start
    std::uint32_t handover_offset;       // 0x264 2.11+
    std::uint32_t kernel_info_offset;    // 0x268 2.15+
};
static_assert(sizeof(SetupHeader) == 0x26c - kSetupHeaderOffset);
#define TANDEM_SETUP_FIELD(field, file_offset) \
    static_assert(offsetof(SetupHeader, field) == (file_offset) - kSetupHeaderOffset)
TANDEM_SETUP_FIELD(syssize, 0x1f4);
TANDEM_SETUP_FIELD(vid_mode, 0x1fa);
TANDEM_SETUP_FIELD(boot_flag, 0x1fe);
TANDEM_SETUP_FIELD(header, 0x202);
TANDEM_SETUP_FIELD(version, 0x206);
TANDEM_SETUP_FIELD(kernel_version, 0x20e);
TANDEM_SETUP_FIELD(type_of_loader, 0x210);
TANDEM_SETUP_FIELD(loadflags, 0x211);
TANDEM_SETUP_FIELD(code32_start, 0x214);
TANDEM_SETUP_FIELD(ramdisk_image, 0x218);
TANDEM_SETUP_FIELD(ramdisk_size, 0x21c);
TANDEM_SETUP_FIELD(heap_end_ptr, 0x224);
TANDEM_SETUP_FIELD(cmd_line_ptr, 0x228);
TANDEM_SETUP_FIELD(initrd_addr_max, 0x22c);
TANDEM_SETUP_FIELD(kernel_alignment, 0x230);
TANDEM_SETUP_FIELD(relocatable_kernel, 0x234);
TANDEM_SETUP_FIELD(xloadflags, 0x236);
TANDEM_SETUP_FIELD(cmdline_size, 0x238);
TANDEM_SETUP_FIELD(payload_offset, 0x248);
TANDEM_SETUP_FIELD(payload_length, 0x24c);
TANDEM_SETUP_FIELD(pref_address, 0x258);
TANDEM_SETUP_FIELD(init_size, 0x260);
TANDEM_SETUP_FIELD(kernel_info_offset, 0x268);
#undef TANDEM_SETUP_FIELD

// struct boot_e820_entry: 20 bytes, packed (bootparam.h).
enum class E820Type : std::uint32_t { ram = 1, reserved = 2, acpi = 3, nvs = 4, unusable = 5 };
struct [[gnu::packed]] E820Entry {
    std::uint64_t addr;
    std::uint64_t size;
    E820Type type;
};
static_assert(sizeof(E820Entry) == 20);

inline constexpr std::size_t kE820MaxEntries = 128;  // E820_MAX_ENTRIES_ZEROPAGE

// struct boot_params. Only the fields tandem writes are named; the rest (screen_info, APM, EDD,
// EDID, EFI, ...) stay zero, which tells the kernel that no firmware provided them. `sentinel`
// must stay zero: a non-zero sentinel makes the kernel assume a broken loader and clear fields.
struct [[gnu::packed]] BootParams {
    std::uint8_t screen_info[0x40];        // 0x000
    std::uint8_t apm_bios_info[0x14];      // 0x040
    std::uint8_t pad2[4];                  // 0x054
    std::uint64_t tboot_addr;              // 0x058
    std::uint8_t ist_info[0x10];           // 0x060
    std::uint64_t acpi_rsdp_addr;          // 0x070
    std::uint8_t pad3[8];                  // 0x078
    std::uint8_t hd0_info[16];             // 0x080
    std::uint8_t hd1_info[16];             // 0x090
    std::uint8_t sys_desc_table[0x10];     // 0x0a0
    std::uint8_t olpc_ofw_header[0x10];    // 0x0b0
    std::uint32_t ext_ramdisk_image;       // 0x0c0: ramdisk_image >> 32
    std::uint32_t ext_ramdisk_size;        // 0x0c4: ramdisk_size >> 32
    std::uint32_t ext_cmd_line_ptr;        // 0x0c8: cmd_line_ptr >> 32
    std::uint8_t pad4[112];                // 0x0cc
    std::uint32_t cc_blob_address;         // 0x13c
    std::uint8_t edid_info[0x80];          // 0x140
    std::uint8_t efi_info[0x20];           // 0x1c0
    std::uint32_t alt_mem_k;               // 0x1e0
    std::uint32_t scratch;                 // 0x1e4
    std::uint8_t e820_entries;             // 0x1e8
    std::uint8_t eddbuf_entries;           // 0x1e9
    std::uint8_t edd_mbr_sig_buf_entries;  // 0x1ea
    std::uint8_t kbd_status;               // 0x1eb
    std::uint8_t secure_boot;              // 0x1ec
    std::uint8_t pad5[2];                  // 0x1ed
    std::uint8_t sentinel;                 // 0x1ef
    std::uint8_t pad6[1];                  // 0x1f0
    SetupHeader hdr;                       // 0x1f1
    std::uint8_t pad7[0x290 - 0x1f1 - sizeof(SetupHeader)];
    std::uint32_t edd_mbr_sig_buffer[16];  // 0x290
    E820Entry e820_table[kE820MaxEntries]; // 0x2d0
    std::uint8_t pad8[48];                 // 0xcd0
    std::uint8_t eddbuf[0x1ec];            // 0xd00
    std::uint8_t pad9[276];                // 0xeec
};
static_assert(sizeof(BootParams) == 4096);
static_assert(offsetof(BootParams, acpi_rsdp_addr) == 0x70);
static_assert(offsetof(BootParams, ext_ramdisk_image) == 0xc0);
static_assert(offsetof(BootParams, ext_ramdisk_size) == 0xc4);
static_assert(offsetof(BootParams, ext_cmd_line_ptr) == 0xc8);
static_assert(offsetof(BootParams, cc_blob_address) == 0x13c);
static_assert(offsetof(BootParams, alt_mem_k) == 0x1e0);
static_assert(offsetof(BootParams, e820_entries) == 0x1e8);
static_assert(offsetof(BootParams, sentinel) == 0x1ef);
static_assert(offsetof(BootParams, hdr) == kSetupHeaderOffset);
static_assert(offsetof(BootParams, edd_mbr_sig_buffer) == 0x290);
static_assert(offsetof(BootParams, e820_table) == 0x2d0);
static_assert(offsetof(BootParams, eddbuf) == 0xd00);

}  // namespace tandem::guest_boot::linux_boot
