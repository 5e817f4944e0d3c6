#include "arch-x86_64/vmx/machine_platform.hpp"

#include "arch-x86_64/cpu/intrinsics.hpp"
#include "arch-x86_64/vmx/xcr0.hpp"

namespace tandem::x86 {
namespace {
void xsetbv0(std::uint64_t value) {
    asm volatile("xsetbv" ::"c"(0), "a"(static_cast<std::uint32_t>(value)), "d"(static_cast<std::uint32_t>(value >> 32)));
}
std::uint64_t xgetbv0() {
    std::uint32_t lo, hi;
    asm volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (static_cast<std::uint64_t>(hi) << 32) | lo;
}
}  // namespace

MachinePlatform::MachinePlatform() {
    xsave_ = (x86::cpuid(1).ecx >> 26) & 1;
    // A virtual call in a constructor reaches this class's cpuid(): the hardware's answers.
    auto layout = read_xsave_layout(*this, checkpoint::CpuState::kMaxXsave);
    if (layout) {
        layout_ = *layout;
        layout_ok_ = true;
    } else {
        layout_error_ = layout.error();  // extended_state() reports it; XSAVE stays unused
        xsave_ = false;
    }
    // IA32_ARCH_CAPABILITIES exists only when CPUID.(7,0):EDX[29] says so (RDMSR would #GP).
    SpeculationFacts enumerated = x86::speculation_facts(*this, 0);
    speculation_facts_ = x86::speculation_facts(*this, enumerated.has_arch_capabilities ? rdmsr(kMsrArchCapabilities) : 0);
    speculation_ = plan_speculation(speculation_facts_);
    tsc_aux_ = x86::cpuid(0x80000000).eax >= 0x80000001 && ((x86::cpuid(0x80000001).edx >> 27) & 1);
}

CpuidValues MachinePlatform::cpuid(std::uint32_t leaf, std::uint32_t subleaf) const {
    CpuidResult r = x86::cpuid(leaf, subleaf);
    return {r.eax, r.ebx, r.ecx, r.edx};
}

std::uint64_t MachinePlatform::read_tsc() const { return rdtsc(); }

std::uint64_t MachinePlatform::read_xcr0() const { return xsave_ ? xgetbv0() : 0; }

bool MachinePlatform::write_xcr0(std::uint64_t value) {
    // The checks XSETBV makes (xcr0.hpp), against the components the guest may enable, so an
    // invalid value is refused instead of faulting in VMX root operation (SDM Vol. 2D XSETBV).
    if (!xsave_ || !valid_xcr0(value, layout_.guest_xcr0)) return false;
    xsetbv0(value);
    return true;
}

std::uint32_t MachinePlatform::save_extended_state(std::span<std::uint8_t> area) {
    std::uint32_t size = layout_.size;
    if (!xsave_ || area.size() < size || reinterpret_cast<std::uintptr_t>(area.data()) % 64 != 0) return 0;
    // XSAVE writes the header bytes 512-575 only partly: start from zeros.
    for (std::uint32_t i = 0; i < size; ++i) area[i] = 0;
    std::uint64_t guest = xgetbv0();
    xsetbv0(layout_.guest_xcr0);
    asm volatile("xsave (%0)" ::"r"(area.data()), "a"(static_cast<std::uint32_t>(layout_.guest_xcr0)),
                 "d"(static_cast<std::uint32_t>(layout_.guest_xcr0 >> 32))
                 : "memory");
    xsetbv0(guest);
    return size;
}

void MachinePlatform::restore_extended_state(std::span<const std::uint8_t> area) {
    if (!xsave_ || area.size() < layout_.size || reinterpret_cast<std::uintptr_t>(area.data()) % 64 != 0) return;
    std::uint64_t guest = xgetbv0();
    xsetbv0(layout_.guest_xcr0);
    asm volatile("xrstor (%0)" ::"r"(area.data()), "a"(static_cast<std::uint32_t>(layout_.guest_xcr0)),
                 "d"(static_cast<std::uint32_t>(layout_.guest_xcr0 >> 32))
                 : "memory");
    xsetbv0(guest);
}

std::uint64_t MachinePlatform::read_msr(std::uint32_t msr) const { return rdmsr(msr); }
void MachinePlatform::write_msr(std::uint32_t msr, std::uint64_t value) { wrmsr(msr, value); }

std::uint64_t MachinePlatform::read_debug_register(unsigned n) const {
    std::uint64_t v = 0;
    switch (n) {
        case 0: asm volatile("mov %%db0, %0" : "=r"(v)); break;
        case 1: asm volatile("mov %%db1, %0" : "=r"(v)); break;
        case 2: asm volatile("mov %%db2, %0" : "=r"(v)); break;
        case 3: asm volatile("mov %%db3, %0" : "=r"(v)); break;
        case 6: asm volatile("mov %%db6, %0" : "=r"(v)); break;
        default: break;
    }
    return v;
}

void MachinePlatform::write_debug_register(unsigned n, std::uint64_t v) {
    switch (n) {
        case 0: asm volatile("mov %0, %%db0" ::"r"(v)); break;
        case 1: asm volatile("mov %0, %%db1" ::"r"(v)); break;
        case 2: asm volatile("mov %0, %%db2" ::"r"(v)); break;
        case 3: asm volatile("mov %0, %%db3" ::"r"(v)); break;
        case 6: asm volatile("mov %0, %%db6" ::"r"(v)); break;
        default: break;
    }
}

}  // namespace tandem::x86
