/* The 32 -> 64-bit trampoline.
 *
 * Both multiboot protocols enter here in 32-bit protected mode with paging off, EAX holding the
 * loader's magic and EBX the physical address of its information block (Multiboot 2 spec §3.3,
 * Multiboot 1 spec §3.2). We check that the CPU can run 64-bit code with NX, identity-map the
 * first 4 GiB with 2 MiB pages (enough to reach the image, the information block, the modules
 * and the page tables C++ builds next), enable long mode (Intel SDM Vol. 3A §10.8.5: PAE, then
 * EFER.LME, then CR0.PG) and jump to kernel_main(magic, info) on the boot stack.
 * The real, W^X page tables are built by C++ (arch-x86_64/paging) right after. */

#define CR0_PE          (1 << 0)
#define CR0_WP          (1 << 16)
#define CR0_PG          (1 << 31)
#define CR4_PAE         (1 << 5)
#define MSR_EFER        0xc0000080
#define EFER_LME        (1 << 8)
#define EFER_NXE        (1 << 11)
#define PTE_P           (1 << 0)
#define PTE_W           (1 << 1)
#define PTE_PS          (1 << 7)
#define COM1            0x3f8

    .section .bss.boot, "aw", @nobits
    .balign 4096
boot_pml4:      .skip 4096
boot_pdpt:      .skip 4096
boot_pd:        .skip 4096 * 4
    .balign 16
boot_stack:     .skip 16384
    .global boot_stack_top
boot_stack_top:

    .section .rodata.boot, "a"
    .balign 16
    /* Accessed bits preset: otherwise the CPU sets them when the selectors are loaded, which
     * would write into read-only data (and change the image hash). */
boot_gdt:
    .quad 0                         /* null */
    .quad 0x00af9b000000ffff        /* 0x08: 64-bit code, present, DPL 0, accessed */
    .quad 0x00cf93000000ffff        /* 0x10: data, present, writable, accessed */
boot_gdt_end:
boot_gdt_ptr:
    .short boot_gdt_end - boot_gdt - 1
    .long boot_gdt
msg_no_long_mode:
    .asciz "\r\ntandem: cannot start: this CPU has no 64-bit long mode or no NX (CPUID 0x80000001 EDX bits 29, 20)\r\n"

    .section .text.boot, "ax"
    .code32
    .global _start
_start:
    cli
    cld
    /* Keep the loader's magic and information pointer in EDI/ESI: they become the first two
     * arguments of kernel_main under the SysV ABI once we are in 64-bit mode. */
    mov %eax, %edi
    mov %ebx, %esi
    mov $boot_stack_top, %esp

    /* Zero .bss ourselves: the page tables below and C++ statics must start at zero, and we do
     * not want to depend on every loader clearing it. */
    mov $__bss_start, %ebx
1:  cmp $__bss_end, %ebx
    jae 2f
    movb $0, (%ebx)
    inc %ebx
    jmp 1b
2:
    /* Long mode and NX present? (CPUID.80000001H:EDX[29] and [20]) */
    mov $0x80000000, %eax
    cpuid
    cmp $0x80000001, %eax
    jb no_long_mode
    mov $0x80000001, %eax
    cpuid
    bt $29, %edx
    jnc no_long_mode
    bt $20, %edx
    jnc no_long_mode

    /* PML4[0] -> PDPT; PDPT[0..3] -> four page directories; each PD maps 1 GiB in 2 MiB pages. */
    mov $boot_pdpt, %eax
    or $(PTE_P | PTE_W), %eax
    mov %eax, boot_pml4

    xor %ecx, %ecx
3:  mov %ecx, %eax
    shl $12, %eax
    add $boot_pd, %eax
    or $(PTE_P | PTE_W), %eax
    mov %eax, boot_pdpt(, %ecx, 8)
    inc %ecx
    cmp $4, %ecx
    jb 3b

    /* 2048 entries across the four directories: entry i maps i * 2 MiB. The upper half of each
     * 64-bit entry (bits 32+ of the address, for i >= 2048) stays zero because we stop at 4 GiB. */
    xor %ecx, %ecx
4:  mov %ecx, %eax
    shl $21, %eax
    or $(PTE_P | PTE_W | PTE_PS), %eax
    mov %eax, boot_pd(, %ecx, 8)
    inc %ecx
    cmp $2048, %ecx
    jb 4b

    mov %cr4, %eax
    or $CR4_PAE, %eax
    mov %eax, %cr4

    mov $boot_pml4, %eax
    mov %eax, %cr3

    mov $MSR_EFER, %ecx
    rdmsr
    or $(EFER_LME | EFER_NXE), %eax
    wrmsr

    mov %cr0, %eax
    or $(CR0_PE | CR0_PG | CR0_WP), %eax
    mov %eax, %cr0

    lgdt boot_gdt_ptr
    ljmp $0x08, $start64

/* Print a fixed message on COM1 without any set-up beyond the loader's (the port may not be
 * initialised; the message is for a human at a console that already works), then halt. */
no_long_mode:
    mov $msg_no_long_mode, %ebx
5:  movb (%ebx), %al
    test %al, %al
    jz 7f
    mov $(COM1 + 5), %dx
6:  inb %dx, %al
    test $0x20, %al
    jz 6b
    movb (%ebx), %al
    mov $COM1, %dx
    outb %al, %dx
    inc %ebx
    jmp 5b
7:  cli
    hlt
    jmp 7b

    .code64
start64:
    mov $0x10, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    xor %eax, %eax
    mov %eax, %fs
    mov %eax, %gs
    mov $boot_stack_top, %rsp
    xor %ebp, %ebp
    /* EDI = magic, ESI = information block (zero-extended by the 32-bit moves above). */
    mov %edi, %edi
    mov %esi, %esi
    call kernel_main
8:  cli
    hlt
    jmp 8b
