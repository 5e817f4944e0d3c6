/* Real-mode test guest entry: tandem sets CS = DS = ES = SS to the load segment and SP = 0xfff0.
 * The C++ parts are compiled with -m16 (32-bit code with operand-size prefixes), so calls push
 * 32-bit return addresses; everything stays inside the one 64 KiB segment. */
    .section .text.start, "ax"
    .code16
    .global _start
_start:
    cli
    mov $__bss_start, %di
    mov $__bss_end, %cx
    sub %di, %cx
    xor %al, %al
    rep stosb
    pushl $0                       /* RAM size: not passed in real mode */
    pushl $0                       /* command line: none */
    calll guest_main
    mov %eax, %ebx
    mov $0x54440002, %eax          /* kHypercallExit */
    vmcall
1:  hlt
    jmp 1b
