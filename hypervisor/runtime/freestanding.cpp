// The few C library and C++ ABI symbols a freestanding image still needs: the compiler emits
// calls to memcpy/memset/memmove/memcmp for aggregate copies and comparisons, and libstdc++'s
// header-only parts call strlen/memchr through char_traits. Nothing here allocates.
#include <cstddef>
#include <cstdint>

#include "hypervisor/runtime/panic.hpp"

extern "C" {

void* memcpy(void* dst, const void* src, std::size_t n) {
    auto* d = static_cast<unsigned char*>(dst);
    const auto* s = static_cast<const unsigned char*>(src);
    // Whole quadwords when everything is 8-byte aligned (pages always are): eight times fewer
    // iterations, which is what an emulator charges for. Otherwise rep movsb, fast on every CPU
    // with ERMSB and correct on all (SDM Vol. 1 §7.3.9.3).
    if (((reinterpret_cast<std::uintptr_t>(d) | reinterpret_cast<std::uintptr_t>(s) | n) & 7) == 0) {
        std::size_t words = n / 8;
        asm volatile("rep movsq" : "+D"(d), "+S"(s), "+c"(words)::"memory");
    } else {
        asm volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(n)::"memory");
    }
    return dst;
}

void* memset(void* dst, int value, std::size_t n) {
    auto* d = static_cast<unsigned char*>(dst);
    if (((reinterpret_cast<std::uintptr_t>(d) | n) & 7) == 0) {
        std::uint64_t pattern = 0x0101010101010101ull * static_cast<std::uint8_t>(value);
        std::size_t words = n / 8;
        asm volatile("rep stosq" : "+D"(d), "+c"(words) : "a"(pattern) : "memory");
    } else {
        asm volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(value) : "memory");
    }
    return dst;
}

void* memmove(void* dst, const void* src, std::size_t n) {
    auto* d = static_cast<unsigned char*>(dst);
    const auto* s = static_cast<const unsigned char*>(src);
    if (d < s || d >= s + n) return memcpy(dst, src, n);
    while (n-- != 0) d[n] = s[n];
    return dst;
}

int memcmp(const void* a, const void* b, std::size_t n) {
    const auto* x = static_cast<const unsigned char*>(a);
    const auto* y = static_cast<const unsigned char*>(b);
    for (std::size_t i = 0; i < n; ++i) {
        if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
    }
    return 0;
}

void* memchr(const void* s, int c, std::size_t n) {
    const auto* p = static_cast<const unsigned char*>(s);
    for (std::size_t i = 0; i < n; ++i) {
        if (p[i] == static_cast<unsigned char>(c)) return const_cast<unsigned char*>(p + i);
    }
    return nullptr;
}

std::size_t strlen(const char* s) {
    std::size_t n = 0;
    while (s[n] != '\0') ++n;
    return n;
}

// A pure virtual call means an object was used during construction or after destruction.
void __cxa_pure_virtual() { tandem::panic("pure virtual function called"); }

// Static destructors never run: the hypervisor does not exit. Registration is a no-op.
int __cxa_atexit(void (*)(void*), void*, void*) { return 0; }
void* __dso_handle = nullptr;

}  // extern "C"

// Deleting destructors of polymorphic classes reference operator delete even though tandem
// never allocates with new; reaching one is a bug.
void operator delete(void*) noexcept { tandem::panic("operator delete called"); }
void operator delete(void*, std::size_t) noexcept { tandem::panic("operator delete called"); }

// libstdc++'s header-only parts report precondition violations (string_view::substr past
// the end, optional::value() when empty) through these; there are no exceptions here, so a
// violation is a bug that stops the hypervisor with the library's own message.
#include <bits/functexcept.h>
namespace std {
void __throw_out_of_range_fmt(const char* what, ...) { tandem::panic("libstdc++: {}", what); }
void __throw_out_of_range(const char* what) { tandem::panic("libstdc++: {}", what); }
void __throw_length_error(const char* what) { tandem::panic("libstdc++: {}", what); }
void __throw_bad_optional_access() { tandem::panic("libstdc++: bad optional access"); }
}  // namespace std
