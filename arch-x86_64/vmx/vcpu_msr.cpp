// RDMSR/WRMSR exits: the MSRs tandem emulates (the rest go straight to the hardware through the
// MSR bitmap, access_bitmaps.cpp). Anything else raises #GP in the guest, as a processor without
// that MSR would, and is reported the first times it happens.
#include "arch-x86_64/vmx/vcpu.hpp"

namespace tandem::x86 {
namespace {

constexpr std::uint32_t kTsc = 0x10;
constexpr std::uint32_t kPlatformId = 0x17;
constexpr std::uint32_t kFeatureControl = 0x3a;
constexpr std::uint32_t kTscAdjust = 0x3b;
constexpr std::uint32_t kBiosSignId = 0x8b;  // microcode revision
constexpr std::uint32_t kMiscEnable = 0x1a0;
constexpr std::uint32_t kPat = 0x277;
constexpr std::uint32_t kArchCapabilities = 0x10a;  // read-only (SDM Vol. 4 Table 2-2)
constexpr std::uint32_t kEfer = 0xc0000080;

// IA32_FEATURE_CONTROL as the guest sees it: locked, VMX disabled (SDM Vol. 3C §24.7).
constexpr std::uint64_t kFeatureControlLocked = 1;
// IA32_MISC_ENABLE: fast strings on, BTS and PEBS unavailable (SDM Vol. 4 Table 2-2).
constexpr std::uint64_t kMiscEnableValue = (1ull << 0) | (1ull << 11) | (1ull << 12);
// EFER: SCE, LME, LMA, NXE are the bits a guest may own (SDM Vol. 3A §2.2.1).
constexpr std::uint64_t kEferAllowed = (1ull << 0) | (1ull << 8) | (1ull << 10) | (1ull << 11);
constexpr std::uint64_t kEferLma = 1ull << 10, kEferLme = 1ull << 8;
constexpr std::uint64_t kCr0Pg = 1ull << 31;
constexpr std::size_t kReportLimit = 16;

// PAT entries must each be a defined memory type: 0, 1, 4, 5, 6 or 7 (SDM Vol. 3A §13.12.2).
bool valid_pat(std::uint64_t pat) {
    for (int i = 0; i < 8; ++i) {
        auto type = static_cast<unsigned>((pat >> (8 * i)) & 0xff);
        if (type == 2 || type == 3 || type > 7) return false;
    }
    return true;
}

constexpr std::uint32_t low32(std::uint64_t v) { return static_cast<std::uint32_t>(v); }

}  // namespace

void Vcpu::on_rdmsr() {
    std::uint32_t msr = low32(regs_[Gpr::rcx]);
    std::uint64_t value = 0;
    if (interrupts_ != nullptr && interrupts_->handles_msr(msr)) {
        auto r = interrupts_->read_msr(msr);
        if (!r) return inject_exception(13, true, 0);
        regs_[Gpr::rax] = low32(*r);
        regs_[Gpr::rdx] = *r >> 32;
        return advance_rip();
    }
    switch (msr) {
        case kTsc: value = platform_.read_tsc() + vmcs_.read(vmcs::tsc_offset); break;
        case kPlatformId: value = 0; break;
        case kFeatureControl: value = kFeatureControlLocked; break;
        case kTscAdjust: value = 0; break;
        case kBiosSignId: value = 0; break;
        case kMiscEnable: value = kMiscEnableValue; break;
        case kPat: value = vmcs_.read(vmcs::guest_pat); break;
        case kEfer: value = vmcs_.read(vmcs::guest_efer); break;
        case kArchCapabilities:
            if (!config_.arch_capabilities) return inject_exception(13, true, 0);
            value = config_.arch_capabilities_value;
            break;
        default:
            if (++stats_.unknown_msr_accesses <= kReportLimit) {
                println(console_, "vm: guest read MSR {}, which tandem does not provide: #GP injected", hex(msr));
            }
            return inject_exception(13, true, 0);
    }
    regs_[Gpr::rax] = low32(value);
    regs_[Gpr::rdx] = value >> 32;
    advance_rip();
}

void Vcpu::on_wrmsr() {
    std::uint32_t msr = low32(regs_[Gpr::rcx]);
    std::uint64_t value = (regs_[Gpr::rdx] << 32) | low32(regs_[Gpr::rax]);
    if (interrupts_ != nullptr && interrupts_->handles_msr(msr)) {
        if (!interrupts_->write_msr(msr, value)) return inject_exception(13, true, 0);
        return advance_rip();
    }
    switch (msr) {
        case kTsc:
            // Writing the TSC moves the guest's clock: keep it in the offset (SDM Vol. 3C §26.6.5).
            vmcs_.write(vmcs::tsc_offset, value - platform_.read_tsc());
            break;
        case kArchCapabilities:
            return inject_exception(13, true, 0);  // read-only, as on the processor
        case kBiosSignId:
            break;  // written as 0 before CPUID to fetch the microcode revision: nothing to keep
        case kTscAdjust:
            // IA32_TSC_ADJUST stays 0 (SDM Vol. 3B §18.17.3): Linux writes it only to undo a
            // value other than the one it found. A guest that moves its TSC this way is told.
            if (value != 0) {
                println(console_, "vm: guest wrote IA32_TSC_ADJUST = {}: tandem keeps it 0 (the guest's TSC moves "
                                  "by writing IA32_TIME_STAMP_COUNTER): #GP injected", hex(value));
                return inject_exception(13, true, 0);
            }
            break;
        case kMiscEnable:
            if (value != kMiscEnableValue) return inject_exception(13, true, 0);
            break;
        case kPat:
            if (!valid_pat(value)) return inject_exception(13, true, 0);
            vmcs_.write(vmcs::guest_pat, value);
            break;
        case kEfer: {
            if (value & ~kEferAllowed) return inject_exception(13, true, 0);
            // LME cannot change while paging is on (SDM Vol. 3A §10.8.5, WRMSR).
            std::uint64_t old = vmcs_.read(vmcs::guest_efer);
            if (((old ^ value) & kEferLme) && (guest_cr0_view() & kCr0Pg)) return inject_exception(13, true, 0);
            // LMA is the processor's to set when paging turns on with LME; a write keeps it.
            std::uint64_t lma = old & kEferLma;
            vmcs_.write(vmcs::guest_efer, (value & ~kEferLma) | lma);
            break;
        }
        default:
            if (++stats_.unknown_msr_accesses <= kReportLimit) {
                println(console_, "vm: guest wrote MSR {} = {}, which tandem does not provide: #GP injected", hex(msr),
                        hex(value));
            }
            return inject_exception(13, true, 0);
    }
    advance_rip();
}

}  // namespace tandem::x86
