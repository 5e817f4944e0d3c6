// hello: the smallest guest. Prints on the emulated 16550 and through the print hypercall, then
// exits with code 0 (or the code given as exit=N). Built for 64-bit, 32-bit and real-mode entry.
#include "lib/guest.hpp"

#if defined(__x86_64__)
#define GUEST_MODE "64-bit"
#elif defined(TANDEM_GUEST_REAL_MODE)
#define GUEST_MODE "real mode"
#else
#define GUEST_MODE "32-bit"
#endif

extern "C" uint32_t guest_main(const char* cmdline, uintptr_t ram_bytes) {
    guest::line("hello from the guest (" GUEST_MODE ")");
    if (ram_bytes != 0) {
        guest::puts("hello: RAM ");
        guest::put_dec(ram_bytes >> 20);
        guest::line(" MiB");
    }
    guest::hypercall_print("hello through the print hypercall");
    uint64_t code = 0;
    if (cmdline != nullptr) guest::arg_number(cmdline, "exit", code);
    return static_cast<uint32_t>(code);
}
