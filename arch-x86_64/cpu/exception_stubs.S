/* One entry stub per IDT vector. Each pushes a zero error code when the CPU does not push one
 * (SDM Vol. 3A Table 7-1), then the vector number, then jumps to the common path, which saves
 * the general-purpose registers in the order of ExceptionFrame (exception_frame.hpp) and calls
 * exception_dispatch(frame). If dispatch returns, registers are restored and IRETQ resumes. */

    .section .text
    .code64

.macro STUB vector
    .balign 16
exception_stub_\vector:
    .if (\vector == 8) || ((\vector >= 10) && (\vector <= 14)) || (\vector == 17) || (\vector == 21) || (\vector == 29) || (\vector == 30)
    .else
    pushq $0
    .endif
    pushq $\vector
    jmp exception_common
.endm

.altmacro
.set i, 0
.rept 256
    STUB %i
    .set i, i + 1
.endr

exception_common:
    push %rax
    push %rbx
    push %rcx
    push %rdx
    push %rsi
    push %rdi
    push %rbp
    push %r8
    push %r9
    push %r10
    push %r11
    push %r12
    push %r13
    push %r14
    push %r15
    cld
    mov %rsp, %rdi
    call exception_dispatch
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %r11
    pop %r10
    pop %r9
    pop %r8
    pop %rbp
    pop %rdi
    pop %rsi
    pop %rdx
    pop %rcx
    pop %rbx
    pop %rax
    add $16, %rsp       /* vector and error code */
    iretq

.macro STUB_ADDRESS vector
    .quad exception_stub_\vector
.endm

    .section .rodata
    .balign 8
    .global exception_stub_table
exception_stub_table:
.set i, 0
.rept 256
    STUB_ADDRESS %i
    .set i, i + 1
.endr
