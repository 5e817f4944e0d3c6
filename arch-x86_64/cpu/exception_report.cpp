#include "arch-x86_64/cpu/exception_report.hpp"

namespace tandem::x86 {
namespace {
struct VectorInfo {
    const char* mnemonic;
    const char* name;
};
// SDM Vol. 3A Table 7-1.
constexpr VectorInfo kVectors[32] = {
    {"#DE", "divide error"},        {"#DB", "debug"},
    {"NMI", "non-maskable interrupt"}, {"#BP", "breakpoint"},
    {"#OF", "overflow"},            {"#BR", "bound range exceeded"},
    {"#UD", "invalid opcode"},      {"#NM", "device not available"},
    {"#DF", "double fault"},        {"#CSO", "coprocessor segment overrun"},
    {"#TS", "invalid TSS"},         {"#NP", "segment not present"},
    {"#SS", "stack-segment fault"}, {"#GP", "general protection"},
    {"#PF", "page fault"},          {"#15", "reserved"},
    {"#MF", "x87 floating-point error"}, {"#AC", "alignment check"},
    {"#MC", "machine check"},       {"#XM", "SIMD floating-point exception"},
    {"#VE", "virtualization exception"}, {"#CP", "control protection"},
    {"#22", "reserved"}, {"#23", "reserved"}, {"#24", "reserved"}, {"#25", "reserved"},
    {"#26", "reserved"}, {"#27", "reserved"}, {"#HV", "hypervisor injection"},
    {"#VC", "VMM communication"}, {"#SX", "security exception"}, {"#31", "reserved"},
};

void reg(Writer& out, const char* name, std::uint64_t v) { print(out, " {} {}", name, hex(v, 16)); }
}  // namespace

const char* exception_mnemonic(std::uint64_t vector) {
    return vector < 32 ? kVectors[vector].mnemonic : "INT";
}

const char* exception_name(std::uint64_t vector) {
    return vector < 32 ? kVectors[vector].name : "unexpected external interrupt";
}

void report_exception(Writer& out, const ExceptionFrame& f, const ControlRegisters& cr) {
    println(out, "tandem: EXCEPTION {} ({}, vector {}) in the hypervisor", exception_mnemonic(f.vector),
            exception_name(f.vector), f.vector);
    print(out, "  error code {}", hex(f.error_code));
    if (f.vector == 14) {
        // Page-fault error code bits (SDM Vol. 3A §5.7, Figure 5-12).
        print(out, " [{} {} {}{}{}]", (f.error_code & 1) ? "protection-violation" : "not-present",
              (f.error_code & 2) ? "write" : "read", (f.error_code & 4) ? "user" : "supervisor",
              (f.error_code & 8) ? " reserved-bit" : "", (f.error_code & 16) ? " instruction-fetch" : "");
        print(out, " at address {}", hex(cr.cr2, 16));
    } else if (f.vector == 13 && f.error_code != 0) {
        print(out, " [selector index {}{}]", f.error_code >> 3, (f.error_code & 2) ? " in IDT" : "");
    }
    out.write("\n");
    print(out, " ");
    reg(out, "rip", f.rip);
    reg(out, "cs", f.cs);
    reg(out, "rflags", f.rflags);
    out.write("\n ");
    reg(out, "rsp", f.rsp);
    reg(out, "ss", f.ss);
    reg(out, "rbp", f.rbp);
    out.write("\n ");
    reg(out, "rax", f.rax);
    reg(out, "rbx", f.rbx);
    reg(out, "rcx", f.rcx);
    out.write("\n ");
    reg(out, "rdx", f.rdx);
    reg(out, "rsi", f.rsi);
    reg(out, "rdi", f.rdi);
    out.write("\n ");
    reg(out, "r8 ", f.r8);
    reg(out, "r9 ", f.r9);
    reg(out, "r10", f.r10);
    out.write("\n ");
    reg(out, "r11", f.r11);
    reg(out, "r12", f.r12);
    reg(out, "r13", f.r13);
    out.write("\n ");
    reg(out, "r14", f.r14);
    reg(out, "r15", f.r15);
    out.write("\n ");
    reg(out, "cr0", cr.cr0);
    reg(out, "cr2", cr.cr2);
    reg(out, "cr3", cr.cr3);
    reg(out, "cr4", cr.cr4);
    out.write("\n");
}

}  // namespace tandem::x86
