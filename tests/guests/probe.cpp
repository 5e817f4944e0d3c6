// probe: reports what the guest sees of the processor and the machine, one "probe: key=value"
// line per fact, for tests to compare with what tandem promises (DESIGN §6): VMX hidden, the
// hypervisor CPUID leaves present, unknown MSRs raising #GP, absent ports reading all ones,
// VMX instructions undefined, CR4.VMXE not settable, XSETBV working.
#include "lib/guest.hpp"

extern "C" {
void probe_isr_ud();
void probe_isr_gp();
extern volatile uint64_t probe_vector, probe_error, probe_skip;
}

namespace {

struct [[gnu::packed]] IdtGate {
    uint16_t offset_low, selector;
    uint8_t ist, type;
    uint16_t offset_mid;
    uint32_t offset_high, reserved;
};
struct [[gnu::packed]] IdtPointer {
    uint16_t limit;
    uint64_t base;
};
IdtGate idt[32];

void set_gate(int vector, void (*handler)()) {
    auto a = reinterpret_cast<uint64_t>(handler);
    idt[vector] = {static_cast<uint16_t>(a), tandem::guest_abi::kSelectorCode64, 0, 0x8e,
                   static_cast<uint16_t>(a >> 16), static_cast<uint32_t>(a >> 32), 0};
}

void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4]) {
    asm volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}

void fact(const char* key, uint64_t value, bool as_hex = false) {
    guest::puts("probe: ");
    guest::puts(key);
    guest::putc('=');
    if (as_hex) {
        guest::put_hex(value);
    } else {
        guest::put_dec(value);
    }
    guest::putc('\n');
}

void fact_text(const char* key, const char* text) {
    guest::puts("probe: ");
    guest::puts(key);
    guest::putc('=');
    guest::line(text);
}

// Arms the handlers for an instruction of `length` bytes.
void arm(uint64_t length) {
    probe_vector = ~0ull;
    probe_error = 0;
    probe_skip = length;
}

const char* outcome() {
    if (probe_vector == 6) return "#UD";
    if (probe_vector == 13) return "#GP";
    return "ok";
}

}  // namespace

extern "C" uint32_t guest_main(const char*, uintptr_t) {
    set_gate(6, probe_isr_ud);
    set_gate(13, probe_isr_gp);
    IdtPointer idtr{sizeof(idt) - 1, reinterpret_cast<uint64_t>(&idt[0])};
    asm volatile("lidt %0" ::"m"(idtr));

    uint32_t r[4];
    cpuid(1, 0, r);
    fact("cpuid.1.ecx.vmx", (r[2] >> 5) & 1);
    fact("cpuid.1.ecx.hypervisor", (r[2] >> 31) & 1);
    fact("cpuid.1.ecx.x2apic", (r[2] >> 21) & 1);
    fact("cpuid.1.edx.mce", (r[3] >> 7) & 1);
    fact("cpuid.1.ebx.logical_processors", (r[1] >> 16) & 0xff);
    cpuid(0x40000000, 0, r);
    fact("cpuid.40000000.max_leaf", r[0], true);
    char signature[13];
    for (int i = 0; i < 4; ++i) {
        signature[i] = static_cast<char>(r[1] >> (8 * i));
        signature[4 + i] = static_cast<char>(r[2] >> (8 * i));
        signature[8 + i] = static_cast<char>(r[3] >> (8 * i));
    }
    signature[12] = '\0';
    fact_text("cpuid.40000000.signature", signature);
    cpuid(0x40000010, 0, r);
    fact("cpuid.40000010.tsc_khz", r[0]);
    cpuid(0xa, 0, r);
    fact("cpuid.a.eax", r[0], true);

    // MSRs: FEATURE_CONTROL reads as locked with VMX off; an MSR nobody has raises #GP.
    uint32_t lo = 0, hi = 0;
    arm(2);
    asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(0x3a));
    fact_text("rdmsr.feature_control.outcome", outcome());
    fact("rdmsr.feature_control", (static_cast<uint64_t>(hi) << 32) | lo, true);
    arm(2);
    asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(0x12345678u));
    fact_text("rdmsr.12345678.outcome", outcome());
    arm(2);
    asm volatile("wrmsr" ::"a"(0), "d"(0), "c"(0x12345678u));
    fact_text("wrmsr.12345678.outcome", outcome());

    // Ports: an absent device reads all ones; the UART's scratch register keeps what is written.
    fact("in.2f8", guest::inb(0x2f8), true);
    guest::outb(0x3ff, 0xa5);
    fact("uart.scratch", guest::inb(0x3ff), true);

    // VMX instructions are undefined for the guest.
    uint64_t region = 0;
    arm(4);
    asm volatile("vmxon (%0)" ::"r"(&region) : "memory");  // f3 0f c7 30
    fact_text("vmxon.outcome", outcome());

    // CR4.VMXE cannot be set; CR4.OSXSAVE can, and then XSETBV works and CPUID mirrors it.
    uint64_t cr4 = 0;
    asm volatile("mov %%cr4, %0" : "=r"(cr4));
    fact("cr4.vmxe_visible", (cr4 >> 13) & 1);
    arm(3);
    asm volatile("mov %0, %%cr4" ::"r"(cr4 | (1ull << 13)));  // 0f 22 e0 with rax
    fact_text("cr4.set_vmxe.outcome", outcome());
    cpuid(1, 0, r);
    if ((r[2] >> 26) & 1) {
        asm volatile("mov %0, %%cr4" ::"r"(cr4 | (1ull << 18) | (1ull << 9)));
        cpuid(1, 0, r);
        fact("cpuid.1.ecx.osxsave_after_cr4", (r[2] >> 27) & 1);
        arm(3);
        asm volatile("xsetbv" ::"a"(3), "d"(0), "c"(0));  // x87 | SSE
        fact_text("xsetbv.3.outcome", outcome());
        uint32_t xlo = 0, xhi = 0;
        asm volatile("xgetbv" : "=a"(xlo), "=d"(xhi) : "c"(0));
        fact("xgetbv", xlo, true);
        arm(3);
        asm volatile("xsetbv" ::"a"(0), "d"(0), "c"(0));  // x87 off: invalid
        fact_text("xsetbv.0.outcome", outcome());
    }

    uint64_t clock = guest::hypercall(tandem::guest_abi::kHypercallClock);
    fact("hypercall.clock_nonzero", clock != 0);
    fact("hypercall.unknown", guest::hypercall(0x1234), true);
    guest::line("probe: done");
    return 0;
}
