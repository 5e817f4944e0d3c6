// Who the processor says it is (CPUID leaves 0, 1, 0x80000002-4), for the boot report.
#pragma once

#include <cstdint>

namespace tandem::x86 {

struct CpuIdentity {
    char vendor[13];
    char brand[49];
    std::uint32_t family;
    std::uint32_t model;
    std::uint32_t stepping;
};

CpuIdentity read_cpu_identity();

}  // namespace tandem::x86
