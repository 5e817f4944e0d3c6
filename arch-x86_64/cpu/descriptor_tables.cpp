#include "arch-x86_64/cpu/descriptor_tables.hpp"

#include <cstdint>

#include "arch-x86_64/cpu/descriptors.hpp"
#include "arch-x86_64/cpu/exception_frame.hpp"
#include "arch-x86_64/cpu/exception_report.hpp"
#include "arch-x86_64/cpu/intrinsics.hpp"
#include "hypervisor/console/console.hpp"

extern "C" const std::uint64_t exception_stub_table[256];

namespace tandem::x86 {
namespace {

constexpr std::size_t kIstStackSize = 8192;

struct Gdt {
    SegmentDescriptor null;
    SegmentDescriptor code;
    SegmentDescriptor data;
    TssDescriptor tss;
};
static_assert(offsetof(Gdt, code) == kCodeSelector);
static_assert(offsetof(Gdt, data) == kDataSelector);
static_assert(offsetof(Gdt, tss) == kTssSelector);

alignas(16) constinit Gdt gdt{};
alignas(16) constinit Tss64 tss{};
alignas(16) constinit IdtGate idt[256]{};
alignas(16) constinit std::uint8_t ist_stacks[3][kIstStackSize]{};

std::uint8_t ist_for_vector(int vector) {
    switch (vector) {
        case 8: return kIstDoubleFault;
        case 2: return kIstNmi;
        case 18: return kIstMachineCheck;
        default: return 0;
    }
}

}  // namespace

void install_descriptor_tables() {
    for (int i = 0; i < 3; ++i) {
        tss.ist[i] = reinterpret_cast<std::uint64_t>(&ist_stacks[i][kIstStackSize]);
    }
    tss.iomap_base = sizeof(Tss64);  // no I/O permission bitmap

    gdt.code = code64_descriptor();
    gdt.data = data_descriptor();
    gdt.tss = tss_descriptor(reinterpret_cast<std::uint64_t>(&tss), sizeof(Tss64) - 1);

    for (int v = 0; v < 256; ++v) {
        idt[v] = interrupt_gate(exception_stub_table[v], kCodeSelector, ist_for_vector(v));
    }

    DescriptorTablePointer gdtr{sizeof(gdt) - 1, reinterpret_cast<std::uint64_t>(&gdt)};
    DescriptorTablePointer idtr{sizeof(idt) - 1, reinterpret_cast<std::uint64_t>(&idt)};
    asm volatile("lgdt %0" ::"m"(gdtr));
    // Reload CS with a far return, then the data segments (SDM Vol. 3A §3.4.4).
    asm volatile(
        "pushq %[cs]\n"
        "leaq 1f(%%rip), %%rax\n"
        "pushq %%rax\n"
        "lretq\n"
        "1:\n"
        "movw %[ds], %%ax\n"
        "movw %%ax, %%ds\n"
        "movw %%ax, %%es\n"
        "movw %%ax, %%ss\n"
        :
        : [cs] "i"(kCodeSelector), [ds] "i"(kDataSelector)
        : "rax", "memory");
    asm volatile("ltr %0" ::"r"(kTssSelector));
    asm volatile("lidt %0" ::"m"(idtr));
}

HostDescriptorTables host_descriptor_tables() {
    return {reinterpret_cast<std::uint64_t>(&gdt), reinterpret_cast<std::uint64_t>(&idt),
            reinterpret_cast<std::uint64_t>(&tss)};
}

}  // namespace tandem::x86

// Called by exception_common with the saved frame. The hypervisor takes no interrupts and
// expects no exceptions: any arrival is a bug (or a deliberate selftest), so report and halt.
extern "C" void exception_dispatch(tandem::x86::ExceptionFrame* frame) {
    using namespace tandem::x86;
    ControlRegisters cr{read_cr0(), read_cr2(), read_cr3(), read_cr4()};
    // What the console holds goes out first, and the report after it synchronously.
    tandem::console().flush();
    report_exception(tandem::console(), *frame, cr);
    tandem::console().write("tandem: halted\n");
    halt_forever();
}
