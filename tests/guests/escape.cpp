// escape: tries to reach memory that is not the guest's. Actions from the command line, in
// this order:
//   show=0xADDR   read 8 bytes at a guest-physical address and print them (for addresses where
//                 the host keeps tandem: the guest must see its own RAM there, not tandem)
//   fill=0xADDR   write a marker over 4 KiB there (guest RAM: harmless to the host)
//   read=0xADDR   read beyond guest RAM: tandem must stop the guest here
//   write=0xADDR  write beyond guest RAM: likewise
// Reaching the end means tandem let an escape through: exit code 3.
#include "lib/guest.hpp"

extern "C" uint32_t guest_main(const char* cmdline, uintptr_t) {
    uint64_t addr = 0;
    if (guest::arg_number(cmdline, "show", addr)) {
        uint64_t v = *reinterpret_cast<volatile uint64_t*>(addr);
        guest::puts("escape: show ");
        guest::put_hex(addr);
        guest::puts(" = ");
        guest::put_hex(v);
        guest::putc('\n');
    }
    if (guest::arg_number(cmdline, "fill", addr)) {
        auto* p = reinterpret_cast<volatile uint64_t*>(addr);
        for (int i = 0; i < 512; ++i) p[i] = 0xdeadbeefcafef00dull;
        guest::puts("escape: filled 4 KiB at ");
        guest::put_hex(addr);
        guest::putc('\n');
    }
    if (guest::arg_number(cmdline, "read", addr)) {
        guest::puts("escape: reading ");
        guest::put_hex(addr);
        guest::putc('\n');
        uint64_t v = *reinterpret_cast<volatile uint64_t*>(addr);
        guest::puts("escape: ESCAPED, read ");
        guest::put_hex(v);
        guest::putc('\n');
        return 3;
    }
    if (guest::arg_number(cmdline, "write", addr)) {
        guest::puts("escape: writing ");
        guest::put_hex(addr);
        guest::putc('\n');
        *reinterpret_cast<volatile uint64_t*>(addr) = 0x4141414141414141ull;
        guest::line("escape: ESCAPED, the write went through");
        return 3;
    }
    return 0;
}
