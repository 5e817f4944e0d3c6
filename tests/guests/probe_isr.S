/* probe's exception handlers for #UD (no error code) and #GP (error code): record the vector and
 * error code, step over the faulting instruction (its length is in probe_skip), return. */
    .section .text
    .code64
    .global probe_isr_ud
probe_isr_ud:
    movq $6, probe_vector(%rip)
    movq $0, probe_error(%rip)
    push %rax
    mov probe_skip(%rip), %rax
    add %rax, 8(%rsp)              /* saved RIP */
    pop %rax
    iretq

    .global probe_isr_gp
probe_isr_gp:
    movq $13, probe_vector(%rip)
    push %rax
    mov 8(%rsp), %rax              /* error code */
    mov %rax, probe_error(%rip)
    mov probe_skip(%rip), %rax
    add %rax, 16(%rsp)             /* saved RIP, above the error code */
    pop %rax
    add $8, %rsp
    iretq

    .section .data
    .balign 8
    .global probe_vector, probe_error, probe_skip
probe_vector: .quad -1
probe_error:  .quad 0
probe_skip:   .quad 0
