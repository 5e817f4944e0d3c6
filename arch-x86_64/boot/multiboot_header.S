/* Boot loader headers. The linker script places .multiboot first in the image, so both headers
 * sit well inside the first 8 KiB of the file that multiboot 1 requires (32 KiB for multiboot 2).
 * Multiboot 2 (GRUB: USB, ISO, PXE) is the product path; the multiboot 1 header exists so QEMU's
 * -kernel (which only speaks multiboot 1) can start the 32-bit copy of the image, tandem32.elf. */

#define MB2_MAGIC        0xe85250d6
#define MB2_ARCH_I386    0
#define MB1_MAGIC        0x1badb002
/* Multiboot 1 flags: bit 0 = page-align modules, bit 1 = provide the memory map. */
#define MB1_FLAGS        0x00000003

    .section .multiboot, "a"
    .balign 8
    .global multiboot2_header
multiboot2_header:
    .long MB2_MAGIC
    .long MB2_ARCH_I386
    .long multiboot2_header_end - multiboot2_header
    .long -(MB2_MAGIC + MB2_ARCH_I386 + (multiboot2_header_end - multiboot2_header))

    /* Information request tag (type 1): we need the command line (1), modules (3), the memory
     * map (6) and want the ACPI RSDP (14/15) for later PCI ECAM discovery. Optional flag set, so a
     * loader that cannot provide one still boots us and the parser reports what is missing. */
    .balign 8
mb2_info_request:
    .short 1
    .short 1                        /* flags: optional */
    .long mb2_info_request_end - mb2_info_request
    .long 1, 3, 6, 14, 15
mb2_info_request_end:

    /* Module alignment tag (type 6): page-aligned modules, so guest images can be mapped. */
    .balign 8
    .short 6, 0
    .long 8

    .balign 8
    .short 0, 0                     /* end tag */
    .long 8
multiboot2_header_end:

    .balign 4
    .global multiboot1_header
multiboot1_header:
    .long MB1_MAGIC
    .long MB1_FLAGS
    .long -(MB1_MAGIC + MB1_FLAGS)
