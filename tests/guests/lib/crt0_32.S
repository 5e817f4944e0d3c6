/* 32-bit test guest entry (flat protected mode, paging off; EDI = command line, ESI = RAM size). */
    .section .text.start, "ax"
    .code32
    .global _start
_start:
    mov $guest_stack_top, %esp
    mov %edi, %ebp
    mov %esi, %ebx
    mov $__bss_start, %edi
    mov $__bss_end, %ecx
    sub %edi, %ecx
    xor %eax, %eax
    rep stosb
    push %ebx
    push %ebp
    call guest_main
    mov %eax, %ebx
    mov $0x54440002, %eax          /* kHypercallExit */
    vmcall
1:  cli
    hlt
    jmp 1b

    .section .bss
    .balign 16
    .skip 8192
guest_stack_top:
