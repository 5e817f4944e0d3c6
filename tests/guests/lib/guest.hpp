// The runtime of tandem's bare-metal test guests: console output on the 16550 at 0x3f8 (the
// device tandem emulates), hypercalls, and command-line parsing. No C or C++ library: the guests
// are built for 64-bit, 32-bit and 16-bit (real mode) entry from the same sources.
#pragma once

#include <stddef.h>  // NOLINT: freestanding C headers only
#include <stdint.h>  // NOLINT

#include "guest-boot/test_guest_abi.hpp"

namespace guest {

inline void outb(uint16_t port, uint8_t v) { asm volatile("outb %0, %1" ::"a"(v), "Nd"(port)); }
inline uint8_t inb(uint16_t port) {
    uint8_t v;
    asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

void putc(char c);
void puts(const char* s);                 // no newline added
void put_dec(uint64_t v);
void put_hex(uint64_t v);                 // 0x-prefixed
void line(const char* s);                 // s + "\n"

// VMCALL with the function in EAX and arguments in (E)BX, (E)CX, (E)DX. Returns (E)AX.
uintptr_t hypercall(uint32_t function, uintptr_t a = 0, uintptr_t b = 0, uintptr_t c = 0);
void hypercall_print(const char* s);
[[noreturn]] void exit(uint32_t code);

size_t length(const char* s);
bool equal(const char* a, const char* b, size_t n);
// Finds "key=" in the command line and parses its value as a number (decimal or 0x hex).
bool arg_number(const char* cmdline, const char* key, uint64_t& value);
// True if the word appears in the command line.
bool has_word(const char* cmdline, const char* word);

}  // namespace guest

// Every guest defines this; its return value is the exit code.
extern "C" uint32_t guest_main(const char* cmdline, uintptr_t ram_bytes);
