#include "guest.hpp"

namespace guest {
namespace {
constexpr uint16_t kCom1 = 0x3f8;
}

void putc(char c) {
    while (!(inb(kCom1 + 5) & 0x20)) {
    }
    outb(kCom1, static_cast<uint8_t>(c));
}

void puts(const char* s) {
    while (*s != '\0') putc(*s++);
}

void line(const char* s) {
    puts(s);
    putc('\n');
}

void put_dec(uint64_t v) {
    char digits[21];
    int n = 0;
    do {
        digits[n++] = static_cast<char>('0' + v % 10);
        v /= 10;
    } while (v != 0);
    while (n > 0) putc(digits[--n]);
}

void put_hex(uint64_t v) {
    puts("0x");
    bool started = false;
    for (int shift = 60; shift >= 0; shift -= 4) {
        unsigned d = static_cast<unsigned>((v >> shift) & 0xf);
        if (d != 0 || started || shift == 0) {
            putc("0123456789abcdef"[d]);
            started = true;
        }
    }
}

uintptr_t hypercall(uint32_t function, uintptr_t a, uintptr_t b, uintptr_t c) {
    uintptr_t result = function;
    asm volatile("vmcall" : "+a"(result), "+b"(a), "+c"(b), "+d"(c)::"memory");
    return result;
}

void hypercall_print(const char* s) {
    auto address = reinterpret_cast<uintptr_t>(s);
#if defined(TANDEM_GUEST_REAL_MODE)
    // Hypercalls take guest-physical addresses; a real-mode pointer is an offset into DS.
    uint16_t ds = 0;
    asm volatile("mov %%ds, %0" : "=r"(ds));
    address += static_cast<uintptr_t>(ds) << 4;
#endif
    hypercall(tandem::guest_abi::kHypercallPrint, address, length(s));
}

void exit(uint32_t code) {
    hypercall(tandem::guest_abi::kHypercallExit, code);
    for (;;) asm volatile("cli; hlt");
}

size_t length(const char* s) {
    size_t n = 0;
    while (s[n] != '\0') ++n;
    return n;
}

bool equal(const char* a, const char* b, size_t n) {
    for (size_t i = 0; i < n; ++i) {
        if (a[i] != b[i]) return false;
    }
    return true;
}

namespace {
// The start of "key=" at a word boundary, or nullptr.
const char* find_key(const char* cmdline, const char* key) {
    size_t k = length(key);
    for (const char* p = cmdline; p != nullptr && *p != '\0'; ++p) {
        bool at_word = p == cmdline || p[-1] == ' ';
        if (at_word && equal(p, key, k) && p[k] == '=') return p + k + 1;
    }
    return nullptr;
}
}  // namespace

bool arg_number(const char* cmdline, const char* key, uint64_t& value) {
    const char* p = find_key(cmdline, key);
    if (p == nullptr) return false;
    uint64_t v = 0;
    if (p[0] == '0' && p[1] == 'x') {
        p += 2;
        for (; *p != '\0' && *p != ' '; ++p) {
            char c = *p;
            unsigned d = c >= '0' && c <= '9' ? static_cast<unsigned>(c - '0')
                         : c >= 'a' && c <= 'f' ? static_cast<unsigned>(c - 'a' + 10)
                                                : 16;
            if (d == 16) return false;
            v = v * 16 + d;
        }
    } else {
        for (; *p != '\0' && *p != ' '; ++p) {
            if (*p < '0' || *p > '9') return false;
            v = v * 10 + static_cast<uint64_t>(*p - '0');
        }
    }
    value = v;
    return true;
}

bool has_word(const char* cmdline, const char* word) {
    size_t k = length(word);
    for (const char* p = cmdline; p != nullptr && *p != '\0'; ++p) {
        bool at_word = p == cmdline || p[-1] == ' ';
        if (at_word && equal(p, word, k) && (p[k] == ' ' || p[k] == '\0')) return true;
    }
    return false;
}

}  // namespace guest

// The compiler may call these for aggregate copies and initialisation.
extern "C" void* memset(void* dst, int value, size_t n) {
    auto* d = static_cast<uint8_t*>(dst);
    for (size_t i = 0; i < n; ++i) d[i] = static_cast<uint8_t>(value);
    return dst;
}

extern "C" void* memcpy(void* dst, const void* src, size_t n) {
    auto* d = static_cast<uint8_t*>(dst);
    const auto* s = static_cast<const uint8_t*>(src);
    for (size_t i = 0; i < n; ++i) d[i] = s[i];
    return dst;
}

#if !defined(__x86_64__)
// 64-bit division for 32-bit and real-mode guests (what libgcc/compiler-rt would provide):
// restoring shift-and-subtract, fine for printing numbers.
namespace {
uint64_t udivmod64(uint64_t n, uint64_t d, uint64_t* remainder) {
    uint64_t q = 0, r = 0;
    for (int i = 63; i >= 0; --i) {
        r = (r << 1) | ((n >> i) & 1);
        if (r >= d) {
            r -= d;
            q |= 1ull << i;
        }
    }
    if (remainder != nullptr) *remainder = r;
    return q;
}
}  // namespace
extern "C" uint64_t __udivdi3(uint64_t n, uint64_t d) { return udivmod64(n, d, nullptr); }
extern "C" uint64_t __umoddi3(uint64_t n, uint64_t d) {
    uint64_t r = 0;
    udivmod64(n, d, &r);
    return r;
}
#endif
