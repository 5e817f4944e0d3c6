// exits32: a 32-bit guest that causes VM exits tandem does not handle, or that end a guest, on
// purpose, so tests can check that each stops the guest with a full report and that tandem
// itself keeps running. One action per run, from the command line:
//   taskswitch   far jump to a TSS selector: a task switch (exit reason 9, not emulated)
//   triplefault  an exception with no usable IDT: triple fault (exit reason 2)
//   hlt          halt with interrupts off: nothing could ever wake the guest
//   stringio     OUTSB to the UART: string I/O is not emulated
#include "lib/guest.hpp"

namespace {
struct [[gnu::packed]] TablePointer {
    uint16_t limit;
    uint32_t base;
};
// A GDT of our own with an available 32-bit TSS at selector 0x08 (SDM Vol. 3A §8.2.2).
alignas(8) uint64_t gdt[3];
alignas(16) uint8_t tss[104];
}  // namespace

extern "C" uint32_t guest_main(const char* cmdline, uintptr_t) {
    if (guest::has_word(cmdline, "taskswitch")) {
        auto base = reinterpret_cast<uint32_t>(&tss[0]);
        gdt[0] = 0;
        gdt[1] = 0x67 | (static_cast<uint64_t>(base & 0xffffff) << 16) | (0x89ull << 40) |
                 (static_cast<uint64_t>(base >> 24) << 56);
        gdt[2] = 0x00cf9a000000ffffull;  // code, so the GDT limit covers CS's old index
        TablePointer gdtr{sizeof(gdt) - 1, reinterpret_cast<uint32_t>(&gdt[0])};
        asm volatile("lgdt %0" ::"m"(gdtr));
        guest::line("exits32: jumping to a TSS");
        asm volatile("ljmp $0x08, $0" ::: "memory");
    } else if (guest::has_word(cmdline, "triplefault")) {
        guest::line("exits32: int3 with an empty IDT");
        TablePointer empty{0, 0};
        asm volatile("lidt %0; int3" ::"m"(empty));
    } else if (guest::has_word(cmdline, "hlt")) {
        guest::line("exits32: cli; hlt");
        asm volatile("cli; hlt");
    } else if (guest::has_word(cmdline, "stringio")) {
        guest::line("exits32: outsb");
        static const char text[] = "x";
        asm volatile("rep outsb" ::"S"(text), "c"(1), "d"(0x3f8) : "memory");
    } else {
        guest::line("exits32: no action given");
        return 2;
    }
    guest::line("exits32: still running after the action");
    return 1;
}
