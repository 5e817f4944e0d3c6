// Basic VM-exit reasons (Intel SDM Vol. 3D Appendix C) and the exit-reason field's flags
// (Vol. 3C §28.2.1). Reasons are numbered up to 77 on current CPUs; anything tandem does not
// know is still named by number, never used as an unchecked table index.
#pragma once

#include <cstdint>

namespace tandem::x86 {

enum class ExitReason : std::uint16_t {
    exception_or_nmi = 0,
    external_interrupt = 1,
    triple_fault = 2,
    init_signal = 3,
    startup_ipi = 4,
    io_smi = 5,
    other_smi = 6,
    interrupt_window = 7,
    nmi_window = 8,
    task_switch = 9,
    cpuid = 10,
    getsec = 11,
    hlt = 12,
    invd = 13,
    invlpg = 14,
    rdpmc = 15,
    rdtsc = 16,
    rsm = 17,
    vmcall = 18,
    vmclear = 19,
    vmlaunch = 20,
    vmptrld = 21,
    vmptrst = 22,
    vmread = 23,
    vmresume = 24,
    vmwrite = 25,
    vmxoff = 26,
    vmxon = 27,
    cr_access = 28,
    dr_access = 29,
    io_instruction = 30,
    rdmsr = 31,
    wrmsr = 32,
    entry_failure_guest_state = 33,
    entry_failure_msr_loading = 34,
    mwait = 36,
    monitor_trap_flag = 37,
    monitor = 39,
    pause = 40,
    entry_failure_machine_check = 41,
    tpr_below_threshold = 43,
    apic_access = 44,
    virtualized_eoi = 45,
    gdtr_idtr_access = 46,
    ldtr_tr_access = 47,
    ept_violation = 48,
    ept_misconfiguration = 49,
    invept = 50,
    rdtscp = 51,
    preemption_timer = 52,
    invvpid = 53,
    wbinvd = 54,
    xsetbv = 55,
    apic_write = 56,
    rdrand = 57,
    invpcid = 58,
    vmfunc = 59,
    encls = 60,
    rdseed = 61,
    pml_full = 62,
    xsaves = 63,
    xrstors = 64,
};

// The 32-bit exit-reason field: basic reason in bits 15:0, bit 31 set when VM entry failed.
struct ExitReasonField {
    std::uint32_t raw;
    constexpr ExitReason basic() const { return static_cast<ExitReason>(raw & 0xffff); }
    constexpr bool entry_failure() const { return (raw >> 31) & 1; }
};

const char* exit_reason_name(ExitReason reason);  // "EPT violation", or "unknown" for others
const char* vm_instruction_error_name(std::uint32_t error);  // SDM Vol. 3C §31.4, Table 31-1

}  // namespace tandem::x86
