// memwalk: writes a pattern into N pages, reads every word back, and prints a checksum of the
// final contents that a test recomputes from the same parameters.
//   pages=N (64)  passes=P (1)  pattern=0xHEX (0x5a5a5a5a5a5a5a5a)  base=0xADDR (0x400000)
// Word i of page p in pass k holds (pattern ^ (k * 0x0101010101010101)) + p * 512 + i.
// checksum = FNV-1a 64 over the region's bytes after the last pass. Exit code 1 on a mismatch.
#include "lib/guest.hpp"

namespace {
constexpr uint64_t kWordsPerPage = 512;

uint64_t value(uint64_t pattern, uint64_t pass, uint64_t page, uint64_t word) {
    return (pattern ^ (pass * 0x0101010101010101ull)) + page * kWordsPerPage + word;
}
}  // namespace

extern "C" uint32_t guest_main(const char* cmdline, uintptr_t ram_bytes) {
    uint64_t pages = 64, passes = 1, pattern = 0x5a5a5a5a5a5a5a5aull, base = 0x400000;
    guest::arg_number(cmdline, "pages", pages);
    guest::arg_number(cmdline, "passes", passes);
    guest::arg_number(cmdline, "pattern", pattern);
    guest::arg_number(cmdline, "base", base);
    if (base % 4096 != 0 || base + pages * 4096 > ram_bytes) {
        guest::line("memwalk: the region does not fit in guest RAM");
        return 2;
    }
    auto* words = reinterpret_cast<volatile uint64_t*>(base);
    for (uint64_t pass = 0; pass < passes; ++pass) {
        for (uint64_t p = 0; p < pages; ++p) {
            for (uint64_t i = 0; i < kWordsPerPage; ++i) words[p * kWordsPerPage + i] = value(pattern, pass, p, i);
        }
        for (uint64_t p = 0; p < pages; ++p) {
            for (uint64_t i = 0; i < kWordsPerPage; ++i) {
                if (words[p * kWordsPerPage + i] != value(pattern, pass, p, i)) {
                    guest::puts("memwalk: MISMATCH in pass ");
                    guest::put_dec(pass);
                    guest::puts(" page ");
                    guest::put_dec(p);
                    guest::puts(" word ");
                    guest::put_dec(i);
                    guest::putc('\n');
                    return 1;
                }
            }
        }
    }
    uint64_t hash = 0xcbf29ce484222325ull;
    auto* bytes = reinterpret_cast<volatile uint8_t*>(base);
    for (uint64_t b = 0; b < pages * 4096; ++b) {
        hash ^= bytes[b];
        hash *= 0x100000001b3ull;
    }
    guest::puts("memwalk: pages=");
    guest::put_dec(pages);
    guest::puts(" passes=");
    guest::put_dec(passes);
    guest::puts(" pattern=");
    guest::put_hex(pattern);
    guest::puts(" base=");
    guest::put_hex(base);
    guest::puts(" checksum=");
    guest::put_hex(hash);
    guest::putc('\n');
    return 0;
}
