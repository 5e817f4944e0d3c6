// The report printed when a guest is stopped: the exit (reason, qualification, addresses), the
// guest's registers and mode, and the bytes of the instruction at RIP, so a stopped guest can
// be diagnosed from the serial console alone.
#include "arch-x86_64/vmx/exit_qualification.hpp"
#include "arch-x86_64/vmx/guest_page_walk.hpp"
#include "arch-x86_64/vmx/vcpu.hpp"

namespace tandem::x86 {
namespace {

constexpr const char* kGprNames[16] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                                       "r8 ", "r9 ", "r10", "r11", "r12", "r13", "r14", "r15"};
constexpr std::uint64_t kCr0Pe = 1, kEferLma = 1ull << 10;
constexpr std::size_t kMaxInstructionBytes = 15;  // the longest x86 instruction

const char* mode_of(std::uint64_t cr0, std::uint64_t efer, std::uint64_t cs_access) {
    if (!(cr0 & kCr0Pe)) return "real mode";
    if (efer & kEferLma) return (cs_access >> 13) & 1 ? "64-bit mode" : "compatibility mode";
    return "protected mode";
}

}  // namespace

const char* gpr_name(Gpr r) { return kGprNames[static_cast<std::size_t>(r) & 15]; }

void Vcpu::report_exit(const char* headline) {
    Writer& out = console_;
    std::uint32_t raw_reason = static_cast<std::uint32_t>(vmcs_.read(vmcs::exit_reason));
    std::uint64_t qualification = vmcs_.read(vmcs::exit_qualification);
    println(out, "vm: guest stopped: {}", headline);
    println(out, "vm:   exit reason {} ({}){}, qualification {}", raw_reason & 0xffff, exit_reason_name(reason_),
            (raw_reason >> 31) ? " [VM-entry failure]" : "", hex(qualification));
    if (reason_ == ExitReason::ept_violation || reason_ == ExitReason::ept_misconfiguration) {
        EptViolation v{qualification};
        print(out, "vm:   guest-physical address {}", hex(vmcs_.read(vmcs::guest_physical_address)));
        if (reason_ == ExitReason::ept_violation) {
            const char* kinds[3] = {v.read() ? "read" : nullptr, v.write() ? "write" : nullptr,
                                    v.fetch() ? "instruction fetch" : nullptr};
            out.write(" (");
            bool first = true;
            for (const char* k : kinds) {
                if (k == nullptr) continue;
                print(out, "{}{}", first ? "" : ", ", k);
                first = false;
            }
            out.write(")");
            if (v.linear_address_valid()) print(out, ", guest-linear {}", hex(vmcs_.read(vmcs::guest_linear_address)));
        }
        out.write("\n");
    }
    if (reason_ == ExitReason::exception_or_nmi) {
        InterruptionInfo info{static_cast<std::uint32_t>(vmcs_.read(vmcs::exit_interruption_info))};
        println(out, "vm:   exception vector {}, error code {}", info.vector(),
                hex(vmcs_.read(vmcs::exit_interruption_error_code)));
    }

    std::uint64_t cr0 = vmcs_.read(vmcs::guest_cr0), cr3 = vmcs_.read(vmcs::guest_cr3),
                  cr4 = vmcs_.read(vmcs::guest_cr4), efer = vmcs_.read(vmcs::guest_efer);
    std::uint64_t rip = vmcs_.read(vmcs::guest_rip), cs_base = vmcs_.read(vmcs::guest_cs_base);
    println(out, "vm:   rip {} cs {} (base {}) rsp {} rflags {} [{}]", hex(rip, 16),
            hex(vmcs_.read(vmcs::guest_cs_selector), 4), hex(cs_base), hex(vmcs_.read(vmcs::guest_rsp), 16),
            hex(vmcs_.read(vmcs::guest_rflags)), mode_of(cr0, efer, vmcs_.read(vmcs::guest_cs_access)));
    for (unsigned row = 0; row < 16; row += 4) {
        print(out, "vm:  ");
        for (unsigned i = row; i < row + 4; ++i) {
            auto r = static_cast<Gpr>(i);
            print(out, " {} {}", gpr_name(r), hex(r == Gpr::rsp ? vmcs_.read(vmcs::guest_rsp) : regs_[r], 16));
        }
        out.write("\n");
    }
    println(out, "vm:   cr0 {} (guest view {}) cr2 {} cr3 {} cr4 {} (guest view {}) efer {}", hex(cr0),
            hex(guest_cr0_view()), hex(regs_.cr2), hex(cr3), hex(cr4), hex(guest_cr4_view()), hex(efer));

    // The instruction bytes at CS:RIP, through the guest's own paging.
    std::uint64_t linear = (efer & kEferLma) ? rip : cs_base + rip;
    auto gpa = guest_linear_to_physical(*memory_, {cr0, cr3, cr4, efer}, linear);
    if (!gpa) {
        print(out, "vm:   instruction bytes: unreadable (");
        println(out, "{})", gpa.error());
        return;
    }
    std::uint8_t bytes[kMaxInstructionBytes];
    std::size_t n = kMaxInstructionBytes;
    // Stop at the end of the page: the next one may not be mapped.
    if (std::size_t left = 4096 - (*gpa & 0xfff); left < n) n = left;
    if (!memory_->read(*gpa, {bytes, n})) {
        println(out, "vm:   instruction bytes: guest-physical {} is outside guest RAM", hex(*gpa));
        return;
    }
    println(out, "vm:   instruction bytes at guest-physical {}: {}", hex(*gpa), ColonHex{bytes, n});
}

void Vcpu::stop_with_report(const char* reason) {
    report_exit(reason);
    stop(reason);
}

}  // namespace tandem::x86
