/* Entering the guest and coming back (Intel SDM Vol. 3C §27, §28.5).
 *
 * int vmx_run(GuestRegisters* regs, int launched)
 *   Saves the host's callee-saved registers, records the stack pointer as HOST_RSP, loads the
 *   guest's GPRs and CR2 from *regs and executes VMLAUNCH (first entry) or VMRESUME. On a VM exit
 *   the processor continues at vmx_exit_entry (HOST_RIP) with RSP = HOST_RSP, where the guest's
 *   registers are stored back into *regs and vmx_run returns 0. If the entry instruction itself
 *   fails, vmx_run returns 1 (VMfailInvalid) or 2 (VMfailValid: see the VM-instruction error).
 *
 * GuestRegisters layout (guest_registers.hpp): gpr[16] in x86 encoding order at 8-byte steps
 * (rax 0, rcx 8, rdx 16, rbx 24, rsp 32 unused, rbp 40, rsi 48, rdi 56, r8 64 ... r15 120),
 * then cr2 at 128. The host's interrupts are off throughout (IF=0 since boot). */

#define HOST_RSP 0x6c14

    .section .text
    .code64
    .global vmx_run
vmx_run:
    push %rbp
    push %rbx
    push %r12
    push %r13
    push %r14
    push %r15
    push %rdi                       /* regs, found at (%rsp) again after the exit */
    mov $HOST_RSP, %eax
    vmwrite %rsp, %rax
    jbe .Lhost_rsp_failed           /* CF or ZF: VMfailInvalid or VMfailValid */

    mov 128(%rdi), %rax
    mov %rax, %cr2
    cmp $0, %esi                    /* flags survive the MOVs below */
    mov 0(%rdi), %rax
    mov 8(%rdi), %rcx
    mov 16(%rdi), %rdx
    mov 24(%rdi), %rbx
    mov 40(%rdi), %rbp
    mov 48(%rdi), %rsi
    mov 64(%rdi), %r8
    mov 72(%rdi), %r9
    mov 80(%rdi), %r10
    mov 88(%rdi), %r11
    mov 96(%rdi), %r12
    mov 104(%rdi), %r13
    mov 112(%rdi), %r14
    mov 120(%rdi), %r15
    mov 56(%rdi), %rdi
    jne .Lresume
    vmlaunch
    jmp .Lentry_failed
.Lresume:
    vmresume
.Lentry_failed:
    /* Still on our stack with the guest's registers loaded; CF/ZF say how it failed. */
    mov $1, %eax
    jc .Lreturn
    mov $2, %eax
    jmp .Lreturn
.Lhost_rsp_failed:
    mov $1, %eax
    jc .Lreturn
    mov $2, %eax
.Lreturn:
    add $8, %rsp                    /* drop regs */
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbx
    pop %rbp
    ret

    .global vmx_exit_entry
vmx_exit_entry:
    push %rdi                       /* the guest's RDI; regs is now at 8(%rsp) */
    mov 8(%rsp), %rdi
    mov %rax, 0(%rdi)
    mov %rcx, 8(%rdi)
    mov %rdx, 16(%rdi)
    mov %rbx, 24(%rdi)
    mov %rbp, 40(%rdi)
    mov %rsi, 48(%rdi)
    mov %r8, 64(%rdi)
    mov %r9, 72(%rdi)
    mov %r10, 80(%rdi)
    mov %r11, 88(%rdi)
    mov %r12, 96(%rdi)
    mov %r13, 104(%rdi)
    mov %r14, 112(%rdi)
    mov %r15, 120(%rdi)
    pop %rax
    mov %rax, 56(%rdi)
    mov %cr2, %rax
    mov %rax, 128(%rdi)
    xor %eax, %eax
    jmp .Lreturn
