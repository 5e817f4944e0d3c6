// flood: the worst guest for the hypervisor's exit latency (issue 14, defect 2). Round after
// round it prints 4096-byte messages through the print hypercall, writes lines to its UART
// without waiting for the transmitter, and storms other exits: port I/O (the UART's scratch
// register, an absent port), CPUID, RDMSR and WRMSR of MSRs tandem emulates. It times every
// exiting instruction with RDTSC (not intercepted: host TSC plus the offset) and reports the
// longest it saw, so the figure can be compared with tandem's own, and with a tandem that does
// not measure at all.
//   seconds=N   how long to flood (guest TSC); 0 floods until the machine is stopped. Default 10.
// Ends with its summary on the UART (waiting for the transmitter, so it is never dropped) and
// exit code 0.
#include "lib/guest.hpp"

namespace {

namespace abi = tandem::guest_abi;

constexpr uint16_t kUartData = 0x3f8, kUartScratch = 0x3ff, kAbsentPort = 0x2f8;
constexpr uint32_t kFeatureControl = 0x3a, kBiosSignId = 0x8b;
constexpr int kUartLinesPerRound = 16, kUartLineLength = 127;
constexpr int kStormPerRound = 256;

enum Kind { kPrint, kUart, kPortIo, kCpuid, kMsr, kKinds };
const char* const kKindNames[kKinds] = {"print hypercall", "UART write", "port I/O", "CPUID", "RDMSR/WRMSR"};

char message[abi::kHypercallPrintMax];
uint64_t longest[kKinds];
uint64_t counts[kKinds];

inline uint64_t rdtsc() {
    uint32_t lo, hi;
    asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (static_cast<uint64_t>(hi) << 32) | lo;
}

// Runs one exiting instruction and keeps the longest time it took.
template <class Instruction>
inline void timed(Kind kind, Instruction instruction) {
    uint64_t start = rdtsc();
    instruction();
    uint64_t took = rdtsc() - start;
    if (took > longest[kind]) longest[kind] = took;
    ++counts[kind];
}

// A printable message; its first bytes carry the round number.
void fill_message(uint64_t round) {
    for (uint64_t i = 0; i < sizeof(message); ++i) message[i] = static_cast<char>('A' + i % 26);
    const char head[] = "flood round ";
    for (uint64_t i = 0; i + 1 < sizeof(head); ++i) message[i] = head[i];
    for (int d = 0; d < 10; ++d) {
        message[sizeof(head) - 1 + 9 - d] = static_cast<char>('0' + round % 10);
        round /= 10;
    }
}

void one_round(uint64_t round) {
    fill_message(round);
    timed(kPrint, [] { guest::hypercall(abi::kHypercallPrint, reinterpret_cast<uintptr_t>(message), sizeof(message)); });
    // Straight into the data register, never asking whether the transmitter is ready.
    for (int line = 0; line < kUartLinesPerRound; ++line) {
        for (int i = 0; i < kUartLineLength; ++i) {
            auto c = static_cast<uint8_t>(i == kUartLineLength - 1 ? '\n' : 'a' + (i + line) % 26);
            timed(kUart, [c] { guest::outb(kUartData, c); });
        }
    }
    for (int i = 0; i < kStormPerRound; ++i) {
        timed(kPortIo, [i] { guest::outb(kUartScratch, static_cast<uint8_t>(i)); });
        timed(kPortIo, [] { (void)guest::inb(kAbsentPort); });
        timed(kCpuid, [i] {
            uint32_t a = static_cast<uint32_t>(i & 1 ? 0x40000000 : 1), b, c = 0, d;
            asm volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
        });
        timed(kMsr, [] {
            uint32_t lo, hi;
            asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(kFeatureControl));
        });
        timed(kMsr, [] { asm volatile("wrmsr" ::"a"(0), "d"(0), "c"(kBiosSignId)); });
    }
}

void report(uint64_t rounds, uint64_t elapsed, uint64_t khz) {
    guest::puts("flood: done after ");
    guest::put_dec(rounds);
    guest::puts(" rounds in ");
    guest::put_dec(elapsed / khz);
    guest::puts(" ms: ");
    for (int k = 0; k < kKinds; ++k) {
        guest::put_dec(counts[k]);
        guest::putc(' ');
        guest::puts(kKindNames[k]);
        guest::puts(k + 1 < kKinds ? ", " : " exits\n");
    }
    int worst = 0;
    for (int k = 1; k < kKinds; ++k) {
        if (longest[k] > longest[worst]) worst = k;
    }
    guest::puts("flood: the longest exit the guest saw: ");
    guest::put_dec(longest[worst]);
    guest::puts(" TSC cycles = ");
    guest::put_dec(longest[worst] * 1000 / khz);
    guest::puts(" us (");
    guest::puts(kKindNames[worst]);
    guest::puts("); by kind:");
    for (int k = 0; k < kKinds; ++k) {
        guest::putc(' ');
        guest::put_dec(longest[k] * 1000 / khz);
        guest::puts(k + 1 < kKinds ? "," : " us\n");
    }
}

}  // namespace

extern "C" uint32_t guest_main(const char* cmdline, uintptr_t) {
    uint64_t seconds = 10;
    if (cmdline != nullptr) guest::arg_number(cmdline, "seconds", seconds);
    uint64_t rax = abi::kHypercallClock, khz = 0;  // RAX: guest TSC, RBX: its frequency in kHz
    asm volatile("vmcall" : "+a"(rax), "=b"(khz) : : "rcx", "rdx", "memory");
    if (khz == 0) khz = 1'000'000;  // unknown: assume 1 GHz
    guest::puts("flood: 4096-byte print hypercalls, UART lines without waiting, port I/O, CPUID and MSR exits for ");
    if (seconds == 0) {
        guest::line("ever");
    } else {
        guest::put_dec(seconds);
        guest::line(" s");
    }
    uint64_t start = rdtsc();
    uint64_t until = seconds * khz * 1000;
    uint64_t rounds = 0;
    while (seconds == 0 || rdtsc() - start < until) one_round(rounds++);
    report(rounds, rdtsc() - start, khz);
    return 0;
}
