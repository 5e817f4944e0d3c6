// VM-exit dispatch (Intel SDM Vol. 3C Chapter 28; reasons in Vol. 3D Appendix C). A switch on
// the basic exit reason; what tandem does not handle stops the guest with a full report, never a
// silent resume.
#include "arch-x86_64/vmx/vcpu.hpp"

#include "arch-x86_64/vmx/exit_qualification.hpp"
#include "arch-x86_64/vmx/guest_rip.hpp"
#include "arch-x86_64/vmx/vmx_controls.hpp"
#include "arch-x86_64/vmx/xcr0.hpp"
#include "guest-boot/test_guest_abi.hpp"

namespace tandem::x86 {
namespace {
namespace abi = tandem::guest_abi;

constexpr std::uint8_t kVectorDebug = 1, kVectorNmi = 2, kVectorUd = 6, kVectorGp = 13, kVectorAc = 17,
                       kVectorMc = 18;

constexpr std::uint64_t kCr0Pe = 1;

constexpr std::uint32_t low32(std::uint64_t v) { return static_cast<std::uint32_t>(v); }
}  // namespace

void Vcpu::advance_rip() { complete_guest_instruction(vmcs_, vmcs_.read(vmcs::exit_instruction_length)); }

void Vcpu::inject_exception(std::uint8_t vector, bool has_error_code, std::uint32_t error_code) {
    ++stats_.injected_exceptions;
    // In real mode (unrestricted guest, CR0.PE clear) exceptions push no error code, and VM entry
    // refuses an injected event that says otherwise (SDM Vol. 3C §27.2.1.3): #GP(0) becomes #GP.
    if (!(vmcs_.read(vmcs::guest_cr0) & kCr0Pe)) has_error_code = false;
    vmcs_.write(vmcs::entry_interruption_info, InterruptionInfo::hardware_exception(vector, has_error_code).raw);
    if (has_error_code) vmcs_.write(vmcs::entry_exception_error_code, error_code);
}

bool Vcpu::guest_cpl0() const {
    // CPL is SS.DPL (SDM Vol. 3C §25.4.1); in real mode it is 0.
    return ((vmcs_.read(vmcs::guest_ss_access) >> 5) & 3) == 0;
}

std::uint64_t Vcpu::guest_cr0_view() const {
    std::uint64_t mask = vmcs_.read(vmcs::cr0_guest_host_mask);
    return (vmcs_.read(vmcs::guest_cr0) & ~mask) | (vmcs_.read(vmcs::cr0_read_shadow) & mask);
}

std::uint64_t Vcpu::guest_cr4_view() const {
    std::uint64_t mask = vmcs_.read(vmcs::cr4_guest_host_mask);
    return (vmcs_.read(vmcs::guest_cr4) & ~mask) | (vmcs_.read(vmcs::cr4_read_shadow) & mask);
}

void Vcpu::stop(const char* reason) {
    end_.kind = GuestEnd::Kind::stopped;
    end_.reason = reason;
}

void Vcpu::handle_exit() {
    ExitReasonField field{low32(vmcs_.read(vmcs::exit_reason))};
    reason_ = field.basic();
    ticked_ = false;
    ++stats_.exits;
    auto index = static_cast<std::size_t>(reason_);
    if (index < sizeof(stats_.exits_by_reason) / sizeof(stats_.exits_by_reason[0])) ++stats_.exits_by_reason[index];

    if (field.entry_failure()) {
        stop_with_report("VM entry failed: the guest state was rejected");
        return;
    }
    // An event that was being delivered when the exit happened must be delivered again, or it
    // is lost (SDM Vol. 3C §28.2.4, §29.2.1). A handler that injects an event replaces it.
    InterruptionInfo vectoring{low32(vmcs_.read(vmcs::idt_vectoring_info))};
    if (vectoring.valid()) {
        vmcs_.write(vmcs::entry_interruption_info, vectoring.raw & ~(1u << 12));
        if (vectoring.has_error_code()) {
            vmcs_.write(vmcs::entry_exception_error_code, vmcs_.read(vmcs::idt_vectoring_error_code));
        }
        vmcs_.write(vmcs::entry_instruction_length, vmcs_.read(vmcs::exit_instruction_length));
    }
    dispatch_exit();
    if (running()) tick_if_due(reason_ == ExitReason::preemption_timer);
}

void Vcpu::dispatch_exit() {
    switch (reason_) {
        case ExitReason::exception_or_nmi: return on_exception_or_nmi();
        case ExitReason::external_interrupt:
            // tandem takes no interrupts of its own; with "acknowledge interrupt on exit" the
            // interrupt is consumed here. Counted in the statistics, nothing else to do.
            return;
        case ExitReason::triple_fault:
            return stop_with_report("triple fault: the guest could not deliver an exception and shut down");
        case ExitReason::init_signal: return stop_with_report("INIT signal: the guest's processor was reset");
        case ExitReason::interrupt_window: return on_interrupt_window();
        case ExitReason::cpuid: return on_cpuid();
        case ExitReason::hlt: return on_hlt();
        case ExitReason::invd:
        case ExitReason::wbinvd:
            // Cache write-back/invalidation is the hardware's business on a coherent machine;
            // INVD's discard is never honoured (it would lose the host's dirty lines).
            return advance_rip();
        case ExitReason::vmcall: return on_vmcall();
        case ExitReason::cr_access: return on_cr_access();
        case ExitReason::io_instruction: return on_io();
        case ExitReason::rdmsr: return on_rdmsr();
        case ExitReason::wrmsr: return on_wrmsr();
        case ExitReason::ept_violation: return on_ept_violation();
        case ExitReason::ept_misconfiguration:
            return stop_with_report("EPT misconfiguration: tandem built an invalid EPT entry (a tandem bug)");
        case ExitReason::preemption_timer:
            // Set for the tick (tick_if_due() runs it after any exit) or for a guest timer
            // deadline (prepare_entry() injects its interrupt): nothing else to do.
            return;
        case ExitReason::xsetbv: return on_xsetbv();
        case ExitReason::pml_full:
            if (hooks_ == nullptr) return stop_with_report("page-modification log full, but nothing enabled PML");
            return hooks_->on_pml_full();
        case ExitReason::rdpmc:
            // Performance counters are hidden (CPUID leaf 0xa is zero): any counter is invalid.
            return inject_exception(kVectorGp, true, 0);
        case ExitReason::getsec:
        case ExitReason::vmclear:
        case ExitReason::vmlaunch:
        case ExitReason::vmptrld:
        case ExitReason::vmptrst:
        case ExitReason::vmread:
        case ExitReason::vmresume:
        case ExitReason::vmwrite:
        case ExitReason::vmxoff:
        case ExitReason::vmxon:
        case ExitReason::invept:
        case ExitReason::invvpid:
        case ExitReason::vmfunc:
        case ExitReason::monitor:
        case ExitReason::mwait:
            // VMX, SMX and MONITOR/MWAIT are hidden from the guest's CPUID: these instructions
            // are undefined for it.
            return inject_exception(kVectorUd);
        default:
            return stop_with_report("unhandled VM exit");
    }
}

void Vcpu::on_exception_or_nmi() {
    InterruptionInfo info{low32(vmcs_.read(vmcs::exit_interruption_info))};
    if (info.type() == InterruptionInfo::Type::nmi || info.vector() == kVectorNmi) return;  // a host NMI: nothing to do
    if (info.vector() == kVectorMc) return stop_with_report("machine check while the guest ran");
    if (info.vector() == kVectorAc || info.vector() == kVectorDebug) {
        // Intercepted only so a guest cannot hang the CPU in an endless chain of #AC or #DB
        // deliveries (the "benign exception loop" problem): reflect it back into the guest as
        // the same event. A software-raised #DB (ICEBP: type 5) is re-injected with its
        // instruction length, so the guest resumes after the instruction (SDM Vol. 3C §27.6.1).
        std::uint32_t code = info.has_error_code() ? low32(vmcs_.read(vmcs::exit_interruption_error_code)) : 0;
        ++stats_.injected_exceptions;
        vmcs_.write(vmcs::entry_interruption_info, info.raw & ~(1u << 12));  // without NMI unblocking
        if (info.has_error_code()) vmcs_.write(vmcs::entry_exception_error_code, code);
        if (info.type() != InterruptionInfo::Type::hardware_exception) {
            vmcs_.write(vmcs::entry_instruction_length, vmcs_.read(vmcs::exit_instruction_length));
        }
        return;
    }
    stop_with_report("unexpected intercepted exception");
}

void Vcpu::on_cpuid() {
    auto leaf = low32(regs_[Gpr::rax]);
    auto subleaf = low32(regs_[Gpr::rcx]);
    CpuidValues v = guest_cpuid(platform_, config_.cpuid, leaf, subleaf, guest_cr4_view());
    regs_[Gpr::rax] = v.eax;
    regs_[Gpr::rbx] = v.ebx;
    regs_[Gpr::rcx] = v.ecx;
    regs_[Gpr::rdx] = v.edx;
    advance_rip();
}

void Vcpu::on_io() {
    IoAccess io{vmcs_.read(vmcs::exit_qualification)};
    if (io.string()) return stop_with_report("string I/O (INS/OUTS) is not emulated");
    std::uint32_t mask = io.size() == 4 ? 0xffffffffu : (1u << (8 * io.size())) - 1;
    if (io.in()) {
        std::uint32_t value = io_.read(io.port(), io.size()) & mask;
        // IN to AL/AX leaves the rest of RAX alone; IN to EAX zero-extends (SDM Vol. 1 §3.4.1.1).
        std::uint64_t rax = regs_[Gpr::rax];
        regs_[Gpr::rax] = io.size() == 4 ? value : (rax & ~static_cast<std::uint64_t>(mask)) | value;
    } else {
        io_.write(io.port(), io.size(), low32(regs_[Gpr::rax]) & mask);
    }
    advance_rip();
}

void Vcpu::on_vmcall() {
    if (!guest_cpl0()) return inject_exception(kVectorUd);
    std::uint32_t function = low32(regs_[Gpr::rax]);
    switch (function) {
        case abi::kHypercallPrint: {
            std::uint64_t gpa = regs_[Gpr::rbx];
            std::uint64_t length = regs_[Gpr::rcx];
            if (length > abi::kHypercallPrintMax || !memory_->contains(gpa, length)) {
                regs_[Gpr::rax] = abi::kHypercallBadAddress;
                break;
            }
            // Copied out in pieces (the guest may change the buffer meanwhile; it only hurts
            // itself), with control characters made visible, as one line of guest output: the
            // buffered console takes it whole or drops it, never waiting (buffered_console.hpp).
            Writer& out = *guest_console_;
            out.write("guest (hypercall): ");
            for (std::uint64_t done = 0; done < length;) {
                char piece[256];
                std::size_t n = length - done < sizeof(piece) ? static_cast<std::size_t>(length - done) : sizeof(piece);
                if (!memory_->read(gpa + done, {reinterpret_cast<std::uint8_t*>(piece), n})) break;
                for (std::size_t i = 0; i < n; ++i) {
                    if (static_cast<unsigned char>(piece[i]) < 0x20 || piece[i] == 0x7f) piece[i] = '.';
                }
                out.write({piece, n});
                done += n;
            }
            out.write("\n");
            regs_[Gpr::rax] = 0;
            break;
        }
        case abi::kHypercallExit:
            end_.kind = GuestEnd::Kind::exited;
            end_.exit_code = regs_[Gpr::rbx];
            return;
        case abi::kHypercallClock:
            regs_[Gpr::rax] = platform_.read_tsc() + vmcs_.read(vmcs::tsc_offset);
            regs_[Gpr::rbx] = config_.cpuid.tsc_khz;
            break;
        default:
            regs_[Gpr::rax] = abi::kHypercallUnknown;
            break;
    }
    advance_rip();
}

void Vcpu::on_xsetbv() {
    // XSETBV: ECX selects the register (only XCR0 exists), EDX:EAX the value (SDM Vol. 2C).
    // Without XSAVE support (CPUID.1:ECX[26] clear for the guest too) it is undefined.
    if (config_.supported_xcr0 == 0) return inject_exception(kVectorUd);
    std::uint64_t value = (regs_[Gpr::rdx] << 32) | low32(regs_[Gpr::rax]);
    bool valid = low32(regs_[Gpr::rcx]) == 0 && guest_cpl0() && valid_xcr0(value, config_.supported_xcr0);
    if (!valid || !platform_.set_xcr0(value)) return inject_exception(kVectorGp, true, 0);
    advance_rip();
}

void Vcpu::on_ept_violation() {
    EptViolation v{vmcs_.read(vmcs::exit_qualification)};
    std::uint64_t gpa = vmcs_.read(vmcs::guest_physical_address);
    // Inside guest RAM only a write can fault, and only while checkpointing write-protects pages.
    if (memory_->contains(gpa, 1)) {
        if (v.write() && hooks_ != nullptr && hooks_->on_ram_write_fault(gpa)) return;
        return stop_with_report("EPT violation inside guest RAM that nothing in tandem caused (a tandem bug)");
    }
    // Outside RAM: a device's registers, or nothing at all.
    std::uint64_t offset = 0;
    MmioDevice* device = mmio_ != nullptr ? mmio_->find(gpa, 1, offset) : nullptr;
    if (device == nullptr) {
        return stop_with_report("EPT violation: the guest accessed guest-physical memory outside its RAM");
    }
    if (!emulate_mmio(*device, offset)) stop_with_report("MMIO access tandem does not emulate");
}

}  // namespace tandem::x86
