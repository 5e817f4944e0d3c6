#include "arch-x86_64/vmx/exit_reason.hpp"

namespace tandem::x86 {

const char* exit_reason_name(ExitReason reason) {
    switch (reason) {
        case ExitReason::exception_or_nmi: return "exception or NMI";
        case ExitReason::external_interrupt: return "external interrupt";
        case ExitReason::triple_fault: return "triple fault";
        case ExitReason::init_signal: return "INIT signal";
        case ExitReason::startup_ipi: return "start-up IPI";
        case ExitReason::io_smi: return "I/O SMI";
        case ExitReason::other_smi: return "other SMI";
        case ExitReason::interrupt_window: return "interrupt window";
        case ExitReason::nmi_window: return "NMI window";
        case ExitReason::task_switch: return "task switch";
        case ExitReason::cpuid: return "CPUID";
        case ExitReason::getsec: return "GETSEC";
        case ExitReason::hlt: return "HLT";
        case ExitReason::invd: return "INVD";
        case ExitReason::invlpg: return "INVLPG";
        case ExitReason::rdpmc: return "RDPMC";
        case ExitReason::rdtsc: return "RDTSC";
        case ExitReason::rsm: return "RSM";
        case ExitReason::vmcall: return "VMCALL";
        case ExitReason::vmclear: return "VMCLEAR";
        case ExitReason::vmlaunch: return "VMLAUNCH";
        case ExitReason::vmptrld: return "VMPTRLD";
        case ExitReason::vmptrst: return "VMPTRST";
        case ExitReason::vmread: return "VMREAD";
        case ExitReason::vmresume: return "VMRESUME";
        case ExitReason::vmwrite: return "VMWRITE";
        case ExitReason::vmxoff: return "VMXOFF";
        case ExitReason::vmxon: return "VMXON";
        case ExitReason::cr_access: return "control-register access";
        case ExitReason::dr_access: return "debug-register access";
        case ExitReason::io_instruction: return "I/O instruction";
        case ExitReason::rdmsr: return "RDMSR";
        case ExitReason::wrmsr: return "WRMSR";
        case ExitReason::entry_failure_guest_state: return "VM-entry failure: invalid guest state";
        case ExitReason::entry_failure_msr_loading: return "VM-entry failure: MSR loading";
        case ExitReason::mwait: return "MWAIT";
        case ExitReason::monitor_trap_flag: return "monitor trap flag";
        case ExitReason::monitor: return "MONITOR";
        case ExitReason::pause: return "PAUSE";
        case ExitReason::entry_failure_machine_check: return "VM-entry failure: machine check";
        case ExitReason::tpr_below_threshold: return "TPR below threshold";
        case ExitReason::apic_access: return "APIC access";
        case ExitReason::virtualized_eoi: return "virtualized EOI";
        case ExitReason::gdtr_idtr_access: return "GDTR/IDTR access";
        case ExitReason::ldtr_tr_access: return "LDTR/TR access";
        case ExitReason::ept_violation: return "EPT violation";
        case ExitReason::ept_misconfiguration: return "EPT misconfiguration";
        case ExitReason::invept: return "INVEPT";
        case ExitReason::rdtscp: return "RDTSCP";
        case ExitReason::preemption_timer: return "VMX-preemption timer expired";
        case ExitReason::invvpid: return "INVVPID";
        case ExitReason::wbinvd: return "WBINVD";
        case ExitReason::xsetbv: return "XSETBV";
        case ExitReason::apic_write: return "APIC write";
        case ExitReason::rdrand: return "RDRAND";
        case ExitReason::invpcid: return "INVPCID";
        case ExitReason::vmfunc: return "VMFUNC";
        case ExitReason::encls: return "ENCLS";
        case ExitReason::rdseed: return "RDSEED";
        case ExitReason::pml_full: return "page-modification log full";
        case ExitReason::xsaves: return "XSAVES";
        case ExitReason::xrstors: return "XRSTORS";
    }
    return "unknown";
}

const char* vm_instruction_error_name(std::uint32_t error) {
    switch (error) {
        case 1: return "VMCALL executed in VMX root operation";
        case 2: return "VMCLEAR with invalid physical address";
        case 3: return "VMCLEAR with VMXON pointer";
        case 4: return "VMLAUNCH with non-clear VMCS";
        case 5: return "VMRESUME with non-launched VMCS";
        case 6: return "VMRESUME after VMXOFF";
        case 7: return "VM entry with invalid control field(s)";
        case 8: return "VM entry with invalid host-state field(s)";
        case 9: return "VMPTRLD with invalid physical address";
        case 10: return "VMPTRLD with VMXON pointer";
        case 11: return "VMPTRLD with incorrect VMCS revision identifier";
        case 12: return "VMREAD/VMWRITE from/to unsupported VMCS component";
        case 13: return "VMWRITE to read-only VMCS component";
        case 15: return "VMXON executed in VMX root operation";
        case 16: return "VM entry with invalid executive-VMCS pointer";
        case 17: return "VM entry with non-launched executive VMCS";
        case 18: return "VM entry with executive-VMCS pointer not VMXON pointer";
        case 19: return "VMCALL with non-clear VMCS";
        case 20: return "VMCALL with invalid VM-exit control fields";
        case 22: return "VMCALL with incorrect MSEG revision identifier";
        case 23: return "VMXOFF under dual-monitor treatment of SMIs and SMM";
        case 24: return "VMCALL with invalid SMM-monitor features";
        case 25: return "VM entry with invalid VM-execution control fields in executive VMCS";
        case 26: return "VM entry with events blocked by MOV SS";
        case 28: return "invalid operand to INVEPT/INVVPID";
        default: return "unknown VM-instruction error";
    }
}

}  // namespace tandem::x86
