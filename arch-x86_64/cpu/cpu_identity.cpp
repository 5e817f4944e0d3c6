#include "arch-x86_64/cpu/cpu_identity.hpp"

#include "arch-x86_64/cpu/intrinsics.hpp"

namespace tandem::x86 {
namespace {
void put32(char* out, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) out[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
}  // namespace

CpuIdentity read_cpu_identity() {
    CpuIdentity id{};
    CpuidResult leaf0 = cpuid(0);
    put32(id.vendor, leaf0.ebx);
    put32(id.vendor + 4, leaf0.edx);
    put32(id.vendor + 8, leaf0.ecx);
    // Display family/model per SDM Vol. 2A, CPUID leaf 1 (EAX) description.
    std::uint32_t eax = cpuid(1).eax;
    std::uint32_t family = (eax >> 8) & 0xf;
    std::uint32_t model = (eax >> 4) & 0xf;
    if (family == 0xf) family += (eax >> 20) & 0xff;
    if (family == 0x6 || family >= 0xf) model |= ((eax >> 16) & 0xf) << 4;
    id.family = family;
    id.model = model;
    id.stepping = eax & 0xf;
    if (cpuid(0x80000000).eax >= 0x80000004) {
        for (std::uint32_t i = 0; i < 3; ++i) {
            CpuidResult r = cpuid(0x80000002 + i);
            put32(id.brand + 16 * i, r.eax);
            put32(id.brand + 16 * i + 4, r.ebx);
            put32(id.brand + 16 * i + 8, r.ecx);
            put32(id.brand + 16 * i + 12, r.edx);
        }
    }
    // Brand strings are padded with leading spaces on some parts.
    char* b = id.brand;
    while (*b == ' ') ++b;
    if (b != id.brand) {
        int i = 0;
        while (b[i] != '\0') { id.brand[i] = b[i]; ++i; }
        id.brand[i] = '\0';
    }
    return id;
}

}  // namespace tandem::x86
