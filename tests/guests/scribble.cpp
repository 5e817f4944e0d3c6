// scribble: writes pseudo-random data over a region of its RAM as fast as it can, forever: the
// heaviest dirty-page load a guest can put on checkpointing (every page of the region dirty in
// every epoch, none of it zero or a small delta). Issue 19's reproduction without Linux.
//   mib=N (8)  base=0xADDR (0x400000)  report=R (16: one line every R passes over the region)
//   passes=P (0: forever; else exit after P passes, for quick checks)
//   idle=N (0: after each pass, spin N iterations of a loop that writes nothing: a lighter load)
// Each report line is one print hypercall (tandem's console is polled and slow: keep R large).
#include "lib/guest.hpp"

namespace {
constexpr uint64_t kWordsPerPage = 512;

// xorshift64*: cheap, and every word differs from the one before it in the same place.
uint64_t next(uint64_t& s) {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 0x2545f4914f6cdd1dull;
}

// Decimal into buf (no library here); returns the end.
char* put(char* buf, const char* s) {
    while (*s != '\0') *buf++ = *s++;
    return buf;
}
char* put_number(char* buf, uint64_t v) {
    char digits[21];
    int n = 0;
    do {
        digits[n++] = static_cast<char>('0' + v % 10);
        v /= 10;
    } while (v != 0);
    while (n > 0) *buf++ = digits[--n];
    return buf;
}
}  // namespace

extern "C" uint32_t guest_main(const char* cmdline, uintptr_t ram_bytes) {
    uint64_t mib = 8, base = 0x400000, report = 16, passes = 0, idle = 0;
    guest::arg_number(cmdline, "mib", mib);
    guest::arg_number(cmdline, "base", base);
    guest::arg_number(cmdline, "report", report);
    guest::arg_number(cmdline, "passes", passes);
    guest::arg_number(cmdline, "idle", idle);
    uint64_t pages = mib * 256;
    if (base % 4096 != 0 || pages == 0 || base + pages * 4096 > ram_bytes) {
        guest::line("scribble: the region does not fit in guest RAM");
        return 2;
    }
    if (report == 0) report = 1;
    static char text[128];
    char* end = put(put_number(put(text, "scribble: writing "), mib), " MiB of pseudo-random data, forever");
    *end = '\0';
    guest::hypercall_print(text);

    auto* words = reinterpret_cast<volatile uint64_t*>(base);
    uint64_t state = 0x9e3779b97f4a7c15ull;
    uint64_t last_tsc = guest::hypercall(tandem::guest_abi::kHypercallClock);
    for (uint64_t pass = 1; passes == 0 || pass <= passes; ++pass) {
        for (uint64_t i = 0; i < pages * kWordsPerPage; ++i) words[i] = next(state);
        for (uint64_t i = 0; i < idle; ++i) asm volatile("" ::: "memory");
        if (pass % report == 0) {
            uint64_t tsc = guest::hypercall(tandem::guest_abi::kHypercallClock);
            // Guest TSC cycles per report (in Bochs the TSC counts instructions): the pace the
            // guest keeps, protected or not.
            end = put(put_number(put(text, "scribble: pass "), pass), " (");
            end = put(put_number(end, report * mib), " MiB in ");
            end = put(put_number(end, (tsc - last_tsc) / 1000), " k TSC cycles)");
            *end = '\0';
            guest::hypercall_print(text);
            last_tsc = tsc;
        }
    }
    guest::hypercall_print("scribble: done");
    return 0;
}
