#include "arch-x86_64/vmx/guest_entry.hpp"

#include "arch-x86_64/vmx/vmx_controls.hpp"
#include "guest-boot/test_guest_abi.hpp"

namespace tandem::x86 {
namespace {

namespace abi = tandem::guest_abi;
using guest_boot::EntryMode;

constexpr std::uint64_t kCr0Pe = 1ull << 0, kCr0Et = 1ull << 4, kCr0Ne = 1ull << 5, kCr0Wp = 1ull << 16,
                        kCr0Pg = 1ull << 31;
constexpr std::uint64_t kCr4Pae = 1ull << 5, kCr4Vmxe = 1ull << 13;
constexpr std::uint64_t kEferLme = 1ull << 8, kEferLma = 1ull << 10;
constexpr std::uint64_t kPowerOnPat = 0x0007040600070406ull;  // SDM Vol. 3A §13.12.4
constexpr std::uint32_t kUnusable = 1u << 16;                  // access-rights "unusable" bit

// Segment access rights in the VMCS format (SDM Vol. 3C Table 25-2).
constexpr std::uint32_t kRealCode = 0x9b, kRealData = 0x93;
constexpr std::uint32_t kFlatCode32 = 0xc09b, kCode64 = 0xa09b, kFlatData = 0xc093;
constexpr std::uint32_t kBusyTss = 0x8b;

struct Segment {
    VmcsField selector, base, limit, access;
};
constexpr Segment kDataSegments[] = {
    {vmcs::guest_ds_selector, vmcs::guest_ds_base, vmcs::guest_ds_limit, vmcs::guest_ds_access},
    {vmcs::guest_es_selector, vmcs::guest_es_base, vmcs::guest_es_limit, vmcs::guest_es_access},
    {vmcs::guest_fs_selector, vmcs::guest_fs_base, vmcs::guest_fs_limit, vmcs::guest_fs_access},
    {vmcs::guest_gs_selector, vmcs::guest_gs_base, vmcs::guest_gs_limit, vmcs::guest_gs_access},
    {vmcs::guest_ss_selector, vmcs::guest_ss_base, vmcs::guest_ss_limit, vmcs::guest_ss_access},
};
constexpr Segment kCode{vmcs::guest_cs_selector, vmcs::guest_cs_base, vmcs::guest_cs_limit, vmcs::guest_cs_access};

void set(VmcsAccess& v, const Segment& s, std::uint16_t selector, std::uint64_t base, std::uint32_t limit,
         std::uint32_t access) {
    v.write(s.selector, selector);
    v.write(s.base, base);
    v.write(s.limit, limit);
    v.write(s.access, access);
}

}  // namespace

CrPolicy cr_policy(const VmxCapabilityMsrs& m) {
    CrPolicy p{};
    // Unrestricted guest lifts the PE and PG requirement (SDM Vol. 3C §27.3.1.1).
    p.cr0_must_be_one = m.cr0_fixed0 & ~(kCr0Pe | kCr0Pg);
    p.cr0_may_be_one = m.cr0_fixed1;
    p.cr4_must_be_one = m.cr4_fixed0;
    p.cr4_may_be_one = m.cr4_fixed1;
    // The host owns every bit VMX constrains: a guest write that would change one exits, and
    // the guest reads its own value from the shadow.
    p.cr0_mask = p.cr0_must_be_one | ~p.cr0_may_be_one;
    p.cr4_mask = p.cr4_must_be_one | ~p.cr4_may_be_one;
    return p;
}

void write_guest_entry_state(VmcsAccess& v, GuestRegisters& regs, const GuestEntry& e, const CrPolicy& cr) {
    regs = GuestRegisters{};
    regs[Gpr::rdi] = e.rdi;
    regs[Gpr::rsi] = e.rsi;

    std::uint64_t cr0 = kCr0Et;
    std::uint64_t cr4 = 0;
    std::uint64_t efer = 0;
    switch (e.mode) {
        case EntryMode::real16:
            set(v, kCode, e.real_segment, static_cast<std::uint64_t>(e.real_segment) << 4, 0xffff, kRealCode);
            for (const Segment& s : kDataSegments) {
                set(v, s, e.real_segment, static_cast<std::uint64_t>(e.real_segment) << 4, 0xffff, kRealData);
            }
            v.write(vmcs::guest_gdtr_base, 0);
            v.write(vmcs::guest_gdtr_limit, 0xffff);
            break;
        case EntryMode::protected32:
            cr0 |= kCr0Pe;
            set(v, kCode, abi::kSelectorCode32, 0, 0xffffffff, kFlatCode32);
            for (const Segment& s : kDataSegments) set(v, s, abi::kSelectorData, 0, 0xffffffff, kFlatData);
            v.write(vmcs::guest_gdtr_base, abi::kGdt);
            v.write(vmcs::guest_gdtr_limit, abi::kSelectorTss + 7);
            break;
        case EntryMode::long64:
            cr0 |= kCr0Pe | kCr0Pg | kCr0Wp;
            cr4 |= kCr4Pae;
            efer = kEferLme | kEferLma;
            set(v, kCode, abi::kSelectorCode64, 0, 0xffffffff, kCode64);
            for (const Segment& s : kDataSegments) set(v, s, abi::kSelectorData, 0, 0xffffffff, kFlatData);
            v.write(vmcs::guest_gdtr_base, abi::kGdt);
            v.write(vmcs::guest_gdtr_limit, abi::kSelectorTss + 7);
            break;
    }
    // TR must be a usable busy TSS and LDTR may be unusable in every mode (§27.3.1.2).
    v.write(vmcs::guest_tr_selector, e.mode == EntryMode::real16 ? 0 : abi::kSelectorTss);
    v.write(vmcs::guest_tr_base, 0);
    v.write(vmcs::guest_tr_limit, 0x67);
    v.write(vmcs::guest_tr_access, kBusyTss);
    v.write(vmcs::guest_ldtr_selector, 0);
    v.write(vmcs::guest_ldtr_base, 0);
    v.write(vmcs::guest_ldtr_limit, 0);
    v.write(vmcs::guest_ldtr_access, kUnusable);
    v.write(vmcs::guest_idtr_base, 0);
    v.write(vmcs::guest_idtr_limit, e.mode == EntryMode::real16 ? 0x3ff : 0);

    v.write(vmcs::guest_cr0, effective_cr(cr0 | kCr0Ne, cr.cr0_must_be_one, cr.cr0_may_be_one));
    v.write(vmcs::cr0_read_shadow, cr0);
    v.write(vmcs::cr0_guest_host_mask, cr.cr0_mask);
    v.write(vmcs::guest_cr4, effective_cr(cr4 | kCr4Vmxe, cr.cr4_must_be_one, cr.cr4_may_be_one));
    v.write(vmcs::cr4_read_shadow, cr4);
    v.write(vmcs::cr4_guest_host_mask, cr.cr4_mask);
    v.write(vmcs::guest_cr3, e.mode == EntryMode::long64 ? e.cr3 : 0);
    v.write(vmcs::guest_efer, efer);
    std::uint64_t entry = v.read(vmcs::entry_controls);
    entry = e.mode == EntryMode::long64 ? entry | entry_ctl::ia32e_mode_guest : entry & ~entry_ctl::ia32e_mode_guest;
    v.write(vmcs::entry_controls, entry);

    v.write(vmcs::guest_rip, e.rip);
    v.write(vmcs::guest_rsp, e.rsp);
    v.write(vmcs::guest_rflags, 0x2);
    v.write(vmcs::guest_dr7, 0x400);
    v.write(vmcs::guest_debugctl, 0);
    v.write(vmcs::guest_pat, kPowerOnPat);
    v.write(vmcs::guest_sysenter_cs, 0);
    v.write(vmcs::guest_sysenter_esp, 0);
    v.write(vmcs::guest_sysenter_eip, 0);
    v.write(vmcs::guest_interruptibility, 0);
    v.write(vmcs::guest_activity_state, 0);
    v.write(vmcs::guest_pending_debug_exceptions, 0);
    v.write(vmcs::vmcs_link_pointer, ~std::uint64_t{0});
}

}  // namespace tandem::x86
