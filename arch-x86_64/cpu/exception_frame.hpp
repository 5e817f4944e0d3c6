// The register frame the exception stubs (exception_stubs.S) build on the stack: general-
// purpose registers pushed by the stub, then vector and error code, then what the CPU pushed
// (SDM Vol. 3A §7.14.2, Figure 7-9: in 64-bit mode SS:RSP is always pushed).
#pragma once

#include <cstdint>

namespace tandem::x86 {

struct ExceptionFrame {
    std::uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    std::uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
    std::uint64_t vector;
    std::uint64_t error_code;  // 0 for vectors without one
    std::uint64_t rip, cs, rflags, rsp, ss;
};
static_assert(sizeof(ExceptionFrame) == 22 * 8, "must match exception_stubs.S");

struct ControlRegisters {
    std::uint64_t cr0, cr2, cr3, cr4;
};

// True for the vectors where the CPU pushes an error code (SDM Vol. 3A Table 7-1).
constexpr bool has_error_code(std::uint64_t vector) {
    return vector == 8 || (vector >= 10 && vector <= 14) || vector == 17 || vector == 21 ||
           vector == 29 || vector == 30;
}

}  // namespace tandem::x86
