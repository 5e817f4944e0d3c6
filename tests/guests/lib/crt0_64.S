/* 64-bit test guest entry (tandem enters in long mode with identity paging; RDI = command line,
 * RSI = RAM size). Own stack, zeroed bss, then guest_main; its return value is the exit code. */
    .section .text.start, "ax"
    .code64
    .global _start
_start:
    mov $guest_stack_top, %rsp
    mov %rdi, %r12
    mov %rsi, %r13
    mov $__bss_start, %rdi
    mov $__bss_end, %rcx
    sub %rdi, %rcx
    xor %eax, %eax
    rep stosb
    mov %r12, %rdi
    mov %r13, %rsi
    call guest_main
    mov %eax, %ebx
    mov $0x54440002, %eax          /* kHypercallExit */
    vmcall
1:  cli
    hlt
    jmp 1b

    .section .bss
    .balign 16
    .skip 16384
guest_stack_top:
