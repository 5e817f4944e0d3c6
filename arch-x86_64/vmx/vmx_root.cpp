#include "arch-x86_64/vmx/vmx_root.hpp"

#include "arch-x86_64/cpu/intrinsics.hpp"
#include "arch-x86_64/cpu/msr.hpp"
#include "arch-x86_64/vmx/vmx_instructions.hpp"

namespace tandem::x86 {
namespace {
constexpr std::uint64_t kFcLock = 1ull << 0, kFcVmxOutsideSmx = 1ull << 2;
constexpr std::uint64_t kCr4Vmxe = 1ull << 13;
constexpr std::uint64_t kCr4OsXsave = 1ull << 18;
}  // namespace

Status enter_vmx_root(const VmxCapabilityMsrs& msrs, const VmxCapabilities& caps, FrameAllocator& frames) {
    auto fc_msr = static_cast<std::uint32_t>(Msr::ia32_feature_control);
    std::uint64_t fc = rdmsr(fc_msr);
    if (!(fc & kFcLock)) {
        wrmsr(fc_msr, fc | kFcLock | kFcVmxOutsideSmx);
    } else if (!(fc & kFcVmxOutsideSmx)) {
        return Error::of("VMX is disabled and locked by the firmware (IA32_FEATURE_CONTROL)", fc);
    }

    // Host CR0/CR4 must have every bit FIXED0 requires (CR0.NE, CR4.VMXE) and none FIXED1 forbids.
    std::uint64_t cr0 = (read_cr0() | msrs.cr0_fixed0) & msrs.cr0_fixed1;
    std::uint64_t cr4 = ((read_cr4() | kCr4Vmxe) | msrs.cr4_fixed0) & msrs.cr4_fixed1;
    // XSETBV, which tandem executes for the guest, needs CR4.OSXSAVE in the host (SDM Vol. 2C).
    // tandem itself uses no extended state, so the guest's XCR0 can stay in the register.
    if ((cpuid(1).ecx >> 26) & 1) cr4 |= kCr4OsXsave;
    write_cr0(cr0);
    write_cr4(cr4);

    auto region = frames.allocate(kPageSize);
    if (!region) return region.error();
    auto* words = reinterpret_cast<volatile std::uint32_t*>(*region);
    for (unsigned i = 0; i < kPageSize / 4; ++i) words[i] = 0;
    words[0] = caps.vmcs_revision;  // bit 31 clear (SDM Vol. 3C §25.11.5)
    switch (vmxon(*region)) {
        case VmxStatus::ok: return success();
        case VmxStatus::fail_invalid: return Error::of("VMXON failed (VMfailInvalid): region or CPU state rejected", *region);
        case VmxStatus::fail_valid: return Error::of("VMXON failed (VMfailValid): already in VMX operation");
    }
    return Error::of("VMXON: unexpected status");
}

}  // namespace tandem::x86
