// Control-register access exits. Only bits tandem owns (the CR0/CR4 guest/host masks:
// VMX's fixed bits) make MOV to CR0/CR4 exit; the guest keeps its view in the read shadows and
// the processor runs with the fixed bits forced (SDM Vol. 3C §26.6.6). Everything the guest may
// not do raises #GP exactly as the SDM's MOV CR description says it would.
#include "arch-x86_64/vmx/exit_qualification.hpp"
#include "arch-x86_64/vmx/vcpu.hpp"
#include "arch-x86_64/vmx/vmx_controls.hpp"

namespace tandem::x86 {
namespace {

constexpr std::uint64_t kCr0Pe = 1ull << 0, kCr0Ts = 1ull << 3, kCr0Ne = 1ull << 5, kCr0Nw = 1ull << 29,
                        kCr0Cd = 1ull << 30, kCr0Pg = 1ull << 31;
constexpr std::uint64_t kCr4Pae = 1ull << 5, kCr4Vmxe = 1ull << 13, kCr4Smxe = 1ull << 14;
constexpr std::uint64_t kEferLme = 1ull << 8, kEferLma = 1ull << 10;
constexpr std::uint8_t kVectorGp = 13;

}  // namespace

void Vcpu::on_cr_access() {
    CrAccess access{vmcs_.read(vmcs::exit_qualification)};
    auto gpr = static_cast<Gpr>(access.gpr());
    // Outside 64-bit mode the operand is the register's low 32 bits (SDM Vol. 2B, MOV to CR).
    bool in_64bit_mode = (vmcs_.read(vmcs::guest_efer) & kEferLma) && ((vmcs_.read(vmcs::guest_cs_access) >> 13) & 1);
    auto read_gpr = [&]() {
        std::uint64_t v = gpr == Gpr::rsp ? vmcs_.read(vmcs::guest_rsp) : regs_[gpr];
        return in_64bit_mode ? v : v & 0xffffffffull;
    };
    const CrPolicy& cr = config_.cr;

    auto set_cr0 = [&](std::uint64_t value) {
        std::uint64_t old = guest_cr0_view();
        if ((value >> 32) != 0 || ((value & kCr0Pg) && !(value & kCr0Pe)) || ((value & kCr0Nw) && !(value & kCr0Cd))) {
            return inject_exception(kVectorGp, true, 0);
        }
        // Paging cannot be turned off from 64-bit mode (SDM Vol. 3A §10.8.5.4).
        if (in_64bit_mode && !(value & kCr0Pg)) return inject_exception(kVectorGp, true, 0);
        std::uint64_t efer = vmcs_.read(vmcs::guest_efer);
        std::uint64_t entry = vmcs_.read(vmcs::entry_controls);
        if (!(old & kCr0Pg) && (value & kCr0Pg) && (efer & kEferLme)) {
            // Turning paging on with LME activates IA-32e mode (SDM Vol. 3A §10.8.5).
            if (!(guest_cr4_view() & kCr4Pae)) return inject_exception(kVectorGp, true, 0);
            vmcs_.write(vmcs::guest_efer, efer | kEferLma);
            vmcs_.write(vmcs::entry_controls, entry | entry_ctl::ia32e_mode_guest);
        } else if ((old & kCr0Pg) && !(value & kCr0Pg) && (efer & kEferLma)) {
            vmcs_.write(vmcs::guest_efer, efer & ~kEferLma);
            vmcs_.write(vmcs::entry_controls, entry & ~entry_ctl::ia32e_mode_guest);
        }
        vmcs_.write(vmcs::cr0_read_shadow, value);
        vmcs_.write(vmcs::guest_cr0, effective_cr(value | kCr0Ne, cr.cr0_must_be_one, cr.cr0_may_be_one));
        advance_rip();
    };

    switch (access.type()) {
        case CrAccess::Type::mov_to_cr: {
            std::uint64_t value = read_gpr();
            if (access.cr() == 0) return set_cr0(value);
            if (access.cr() == 4) {
                // VMX and SMX are hidden from the guest; other bits must be ones the CPU has.
                bool reserved = (value & ~(cr.cr4_may_be_one | cr.cr4_must_be_one)) != 0;
                bool lma = (vmcs_.read(vmcs::guest_efer) & kEferLma) != 0;
                if (reserved || (value & (kCr4Vmxe | kCr4Smxe)) || (lma && !(value & kCr4Pae))) {
                    return inject_exception(kVectorGp, true, 0);
                }
                vmcs_.write(vmcs::cr4_read_shadow, value);
                vmcs_.write(vmcs::guest_cr4, effective_cr(value | kCr4Vmxe, cr.cr4_must_be_one, cr.cr4_may_be_one));
                return advance_rip();
            }
            break;
        }
        case CrAccess::Type::mov_from_cr:
            if (access.cr() == 3) {
                std::uint64_t value = vmcs_.read(vmcs::guest_cr3);
                if (gpr == Gpr::rsp) {
                    vmcs_.write(vmcs::guest_rsp, value);
                } else {
                    regs_[gpr] = value;
                }
                return advance_rip();
            }
            break;
        case CrAccess::Type::clts:
            return set_cr0(guest_cr0_view() & ~kCr0Ts);
        case CrAccess::Type::lmsw: {
            // LMSW loads CR0 bits 3:0 but can set PE, never clear it (SDM Vol. 2A, LMSW).
            std::uint64_t old = guest_cr0_view();
            std::uint64_t source = access.lmsw_source() & 0xf;
            return set_cr0((old & ~0xeull) | source | (old & kCr0Pe));
        }
    }
    stop_with_report("control-register access tandem does not emulate (CR3 or CR8 exiting)");
}

}  // namespace tandem::x86
