// The guest's state at its first VM entry (arch-x86_64/vmx/guest_entry.hpp) for real,
// protected and long mode, written into a fake VMCS and checked against the VM-entry checks on
// guest state that apply to these modes (Intel SDM Vol. 3C §27.3.1.1-§27.3.1.5), with skylake_x's
// controls and CR fixed bits as Bochs reports them.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "arch-x86_64/vmx/guest_entry.hpp"
#include "arch-x86_64/vmx/vmx_controls.hpp"
#include "vmx_fake_msrs.hpp"
#include "vmx_fake_vmcs.hpp"

using namespace tandem;
using namespace tandem::x86;
using guest_boot::EntryMode;
using test::FakeVmcs;

namespace {

constexpr std::uint64_t kPe = 1, kNe = 1ull << 5, kWp = 1ull << 16, kPg = 1ull << 31;
constexpr std::uint64_t kPae = 1ull << 5, kPcide = 1ull << 17, kVmxe = 1ull << 13;
constexpr std::uint32_t kSecondary = 0x1010ea, kEntry = 0xd1ff;  // skylake_x (test_vmx_controls.cpp)

bool bit(std::uint64_t v, unsigned n) { return (v >> n) & 1; }
unsigned dpl(std::uint32_t ar) { return (ar >> 5) & 3; }
// Limit and granularity agree (§27.3.1.2): a limit with bits 31:20 set needs G, one with any
// of bits 11:0 clear forbids it.
bool granularity_ok(std::uint64_t limit, std::uint32_t ar) {
    bool g = bit(ar, 15);
    if ((limit & 0xfff) != 0xfff && g) return false;
    if ((limit >> 20) != 0 && !g) return false;
    return true;
}

struct Seg {
    const char* name;
    VmcsField selector, base, limit, access;
};
const Seg kCs{"CS", vmcs::guest_cs_selector, vmcs::guest_cs_base, vmcs::guest_cs_limit, vmcs::guest_cs_access};
const Seg kSs{"SS", vmcs::guest_ss_selector, vmcs::guest_ss_base, vmcs::guest_ss_limit, vmcs::guest_ss_access};
const Seg kData[] = {
    {"DS", vmcs::guest_ds_selector, vmcs::guest_ds_base, vmcs::guest_ds_limit, vmcs::guest_ds_access},
    {"ES", vmcs::guest_es_selector, vmcs::guest_es_base, vmcs::guest_es_limit, vmcs::guest_es_access},
    {"FS", vmcs::guest_fs_selector, vmcs::guest_fs_base, vmcs::guest_fs_limit, vmcs::guest_fs_access},
    {"GS", vmcs::guest_gs_selector, vmcs::guest_gs_base, vmcs::guest_gs_limit, vmcs::guest_gs_access}};

// The guest-state checks VM entry makes that the three entry modes can violate; the names of
// those that fail.
std::vector<std::string> entry_violations(const FakeVmcs& v, const VmxCapabilityMsrs& m) {
    std::vector<std::string> bad;
    auto need = [&](bool ok, const std::string& what) {
        if (!ok) bad.push_back(what);
    };
    const std::uint64_t entry = v.read(vmcs::entry_controls);
    const bool ia32e = entry & entry_ctl::ia32e_mode_guest;
    const bool ug = v.read(vmcs::secondary_controls) & proc2::unrestricted_guest;
    const std::uint64_t cr0 = v.read(vmcs::guest_cr0), cr4 = v.read(vmcs::guest_cr4);
    // §27.3.1.1: control registers, debug registers, MSRs.
    std::uint64_t fixed0 = ug ? m.cr0_fixed0 & ~(kPe | kPg) : m.cr0_fixed0;
    need((cr0 & fixed0) == fixed0, "CR0 fixed-0 bits");
    need((cr0 & ~m.cr0_fixed1) == 0, "CR0 fixed-1 bits");
    need(!(cr0 & kPg) || (cr0 & kPe), "CR0.PG without PE");
    need((cr4 & m.cr4_fixed0) == m.cr4_fixed0, "CR4 fixed-0 bits");
    need((cr4 & ~m.cr4_fixed1) == 0, "CR4 fixed-1 bits");
    if (ia32e) {
        need((cr0 & kPg) && (cr4 & kPae), "IA-32e mode without CR0.PG and CR4.PAE");
    } else {
        need(!(cr4 & kPcide), "CR4.PCIDE outside IA-32e mode");
    }
    need((v.read(vmcs::guest_cr3) >> 46) == 0, "CR3 beyond MAXPHYADDR");
    if (entry & entry_ctl::load_debug_controls) need((v.read(vmcs::guest_dr7) >> 32) == 0, "DR7 bits 63:32");
    if (entry & entry_ctl::load_pat) {
        for (unsigned i = 0; i < 8; ++i) {
            auto t = (v.read(vmcs::guest_pat) >> (8 * i)) & 0xff;
            need(t == 0 || t == 1 || t == 4 || t == 5 || t == 6 || t == 7, "PAT entry type");
        }
    }
    if (entry & entry_ctl::load_efer) {
        std::uint64_t efer = v.read(vmcs::guest_efer);
        need((efer & ~0xd01ull) == 0, "EFER reserved bits");
        need(bit(efer, 10) == ia32e, "EFER.LMA = IA-32e mode guest");
        need(!(cr0 & kPg) || bit(efer, 8) == bit(efer, 10), "EFER.LME = LMA with paging");
    }
    // §27.3.1.2: segment registers.
    const auto cs = static_cast<std::uint32_t>(v.read(kCs.access));
    const auto ss = static_cast<std::uint32_t>(v.read(kSs.access));
    auto common = [&](const Seg& s, std::uint32_t ar) {
        std::string n = s.name;
        need(bit(ar, 7), n + " present");
        need((ar & 0xf00) == 0 && (ar >> 17) == 0, n + " reserved access-rights bits");
        need(granularity_ok(v.read(s.limit), ar), n + " limit and G");
        need((v.read(s.base) >> 32) == 0, n + " base bits 63:32");
    };
    need(!bit(cs, 16), "CS usable");
    unsigned cs_type = cs & 0xf;
    need(cs_type == 9 || cs_type == 11 || cs_type == 13 || cs_type == 15 || (ug && cs_type == 3), "CS type");
    need(bit(cs, 4), "CS is a code or data segment (S)");
    if (cs_type == 3) need(dpl(cs) == 0, "CS.DPL for type 3");
    if (cs_type == 9 || cs_type == 11) need(dpl(cs) == dpl(ss), "CS.DPL = SS.DPL");
    if (ia32e && bit(cs, 13)) need(!bit(cs, 14), "CS.D clear with CS.L");
    common(kCs, cs);
    if (!bit(ss, 16)) {
        need((ss & 0xf) == 3 || (ss & 0xf) == 7, "SS type");
        need(bit(ss, 4), "SS S bit");
        if (!ug) need(dpl(ss) == (v.read(kSs.selector) & 3), "SS.DPL = RPL");
        if (cs_type == 3 || !(cr0 & kPe)) need(dpl(ss) == 0, "SS.DPL 0 in real mode");
        common(kSs, ss);
    }
    for (const Seg& s : kData) {
        auto ar = static_cast<std::uint32_t>(v.read(s.access));
        if (bit(ar, 16)) continue;
        need(bit(ar, 0), std::string(s.name) + " accessed");
        if (bit(ar, 3)) need(bit(ar, 1), std::string(s.name) + " readable code");
        need(bit(ar, 4), std::string(s.name) + " S bit");
        common(s, ar);
    }
    auto tr = static_cast<std::uint32_t>(v.read(vmcs::guest_tr_access));
    need((v.read(vmcs::guest_tr_selector) & 4) == 0, "TR selector TI");
    need((tr & 0xf) == 11 || (!ia32e && (tr & 0xf) == 3), "TR type (busy TSS)");
    need(!bit(tr, 4) && bit(tr, 7) && !bit(tr, 16), "TR system, present, usable");
    need((tr & 0xf00) == 0 && (tr >> 17) == 0 && granularity_ok(v.read(vmcs::guest_tr_limit), tr), "TR limit/rsvd");
    auto ldtr = static_cast<std::uint32_t>(v.read(vmcs::guest_ldtr_access));
    if (!bit(ldtr, 16)) need((ldtr & 0xf) == 2 && !bit(ldtr, 4) && bit(ldtr, 7), "LDTR type");
    need((v.read(vmcs::guest_gdtr_limit) >> 16) == 0 && (v.read(vmcs::guest_idtr_limit) >> 16) == 0,
         "GDTR/IDTR limit bits 31:16");
    // §27.3.1.3: RIP and RFLAGS.
    if (!(ia32e && bit(cs, 13))) need((v.read(vmcs::guest_rip) >> 32) == 0, "RIP bits 63:32");
    std::uint64_t rflags = v.read(vmcs::guest_rflags);
    need((rflags & ~0x3f7fd7ull) == 0, "RFLAGS reserved bits");
    need(bit(rflags, 1), "RFLAGS bit 1");
    if (ia32e || !(cr0 & kPe)) need(!bit(rflags, 17), "RFLAGS.VM");
    // §27.3.1.5: non-register state.
    need(v.read(vmcs::guest_activity_state) == 0, "activity state active");
    need((v.read(vmcs::guest_interruptibility) >> 5) == 0, "interruptibility reserved bits");
    need(v.read(vmcs::vmcs_link_pointer) == ~std::uint64_t{0}, "VMCS link pointer");
    return bad;
}

struct Entered {
    FakeVmcs vmcs;
    GuestRegisters regs{};
    VmxCapabilityMsrs msrs;
    explicit Entered(EntryMode mode, const char* model = "corei7_skylake_x") : msrs(test::bochs_msrs(model)) {
        auto controls = compute_vmx_controls(msrs, {});
        REQUIRE(controls.ok());
        vmcs.set(vmcs::entry_controls, controls->entry);
        vmcs.set(vmcs::secondary_controls, controls->secondary);
        for (auto& r : regs.gpr) r = 0x5a5a'5a5a'5a5a'5a5aull;
        regs.cr2 = 0x77;
        GuestEntry e;
        e.mode = mode;
        e.rip = mode == EntryMode::real16 ? 0x20 : 0x10'0000;
        e.real_segment = 0x1000;
        e.rsp = mode == EntryMode::real16 ? 0xfff0 : 0x10000;
        e.rdi = 0x2000;
        e.rsi = 16ull << 20;
        e.cr3 = 0x3000;
        write_guest_entry_state(vmcs, regs, e, cr_policy(msrs));
    }
    std::uint64_t get(VmcsField f) const { return vmcs.read(f); }
};

std::string joined(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += x + "; ";
    return s;
}

}  // namespace

TEST_SUITE("guest_entry") {

TEST_CASE("cr_policy: VMX's fixed bits are tandem's; PE, PG and PAE are the guest's") {
    CrPolicy p = cr_policy(test::bochs_msrs("corei7_skylake_x"));
    CHECK(p.cr0_must_be_one == kNe);  // PE and PG exempt under unrestricted guest
    CHECK(p.cr0_may_be_one == 0xffffffff);
    CHECK(p.cr4_must_be_one == kVmxe);
    CHECK(p.cr4_may_be_one == 0x3727ff);
    CHECK(p.cr0_mask == 0xffff'ffff'0000'0020ull);
    CHECK(p.cr4_mask == (kVmxe | ~0x3727ffull));
    CHECK((p.cr0_mask & (kPe | kPg | kWp)) == 0);
    CHECK((p.cr4_mask & kPae) == 0);
    CHECK(effective_cr(0x11, p.cr0_must_be_one, p.cr0_may_be_one) == 0x31);
    CHECK(effective_cr(0x1'0000'0011, p.cr0_must_be_one, p.cr0_may_be_one) == 0x31);
}

TEST_CASE("every entry mode passes the VM-entry guest-state checks, on every model tandem runs on") {
    for (const char* model :
         {"corei7_skylake_x", "tigerlake", "broadwell_ult", "corei7_haswell_4770", "corei7_ivy_bridge_3770k"}) {
        for (EntryMode mode : {EntryMode::real16, EntryMode::protected32, EntryMode::long64}) {
            std::string what = std::string(model) + ", " + guest_boot::entry_mode_name(mode);
            CAPTURE(what);
            Entered e(mode, model);
            auto bad = entry_violations(e.vmcs, e.msrs);
            CHECK_MESSAGE(bad.empty(), joined(bad));
        }
    }
    for (EntryMode mode : {EntryMode::real16, EntryMode::protected32, EntryMode::long64}) {
        CAPTURE(guest_boot::entry_mode_name(mode));
        Entered e(mode);
        CHECK(e.get(vmcs::secondary_controls) == kSecondary);
        // Only RDI and RSI carry anything; the rest start at zero.
        for (unsigned i = 0; i < 16; ++i) {
            CAPTURE(i);
            std::uint64_t expected = i == 7 ? 0x2000 : i == 6 ? 16ull << 20 : 0;
            CHECK(e.regs.gpr[i] == expected);
        }
        CHECK(e.regs.cr2 == 0);
        CHECK(e.get(vmcs::vmcs_link_pointer) == ~std::uint64_t{0});
        CHECK(e.get(vmcs::guest_rflags) == 0x2);
        CHECK(e.get(vmcs::guest_ldtr_access) == 0x10000);
        CHECK(e.get(vmcs::guest_tr_access) == 0x8b);
        CHECK(e.get(vmcs::cr0_guest_host_mask) == 0xffff'ffff'0000'0020ull);
        // The guest sees neither the forced NE nor VMXE.
        CHECK((e.get(vmcs::cr0_read_shadow) & kNe) == 0);
        CHECK((e.get(vmcs::cr4_read_shadow) & kVmxe) == 0);
        CHECK((e.get(vmcs::guest_cr4) & kVmxe) != 0);
    }
}

TEST_CASE("without unrestricted guest, real and protected mode would be refused (the exemption matters)") {
    for (EntryMode mode : {EntryMode::real16, EntryMode::protected32}) {
        Entered e(mode);
        e.vmcs.set(vmcs::secondary_controls, kSecondary & ~proc2::unrestricted_guest);
        auto bad = entry_violations(e.vmcs, e.msrs);
        REQUIRE_FALSE(bad.empty());
        CHECK(bad[0] == "CR0 fixed-0 bits");
    }
    Entered lm(EntryMode::long64);
    lm.vmcs.set(vmcs::secondary_controls, kSecondary & ~proc2::unrestricted_guest);
    CHECK(entry_violations(lm.vmcs, lm.msrs).empty());
}

TEST_CASE("real mode: one segment, paging and protection off, IDT at 0") {
    Entered e(EntryMode::real16);
    CHECK(e.get(vmcs::guest_cs_selector) == 0x1000);
    CHECK(e.get(vmcs::guest_cs_base) == 0x10000);
    CHECK(e.get(vmcs::guest_cs_limit) == 0xffff);
    CHECK(e.get(vmcs::guest_cs_access) == 0x9b);
    for (const Seg& s : kData) {
        CAPTURE(s.name);
        CHECK(e.get(s.selector) == 0x1000);
        CHECK(e.get(s.base) == 0x10000);
        CHECK(e.get(s.access) == 0x93);
    }
    CHECK(e.get(vmcs::guest_ss_base) == 0x10000);
    CHECK(e.get(vmcs::guest_rip) == 0x20);
    CHECK(e.get(vmcs::guest_rsp) == 0xfff0);
    CHECK(e.get(vmcs::guest_cr0) == 0x30);
    CHECK(e.get(vmcs::cr0_read_shadow) == 0x10);
    CHECK(e.get(vmcs::guest_cr3) == 0);
    CHECK(e.get(vmcs::guest_efer) == 0);
    CHECK(e.get(vmcs::guest_idtr_limit) == 0x3ff);
    CHECK(e.get(vmcs::guest_tr_selector) == 0);
    CHECK(e.get(vmcs::entry_controls) == kEntry);
}

TEST_CASE("protected mode: flat segments from the test-guest GDT, paging off") {
    Entered e(EntryMode::protected32);
    CHECK(e.get(vmcs::guest_cs_selector) == 0x08);
    CHECK(e.get(vmcs::guest_cs_access) == 0xc09b);
    CHECK(e.get(vmcs::guest_cs_limit) == 0xffffffff);
    for (const Seg& s : kData) CHECK(e.get(s.selector) == 0x18);
    CHECK(e.get(vmcs::guest_ss_access) == 0xc093);
    CHECK(e.get(vmcs::guest_gdtr_base) == 0x1000);
    CHECK(e.get(vmcs::guest_gdtr_limit) == 0x27);
    CHECK(e.get(vmcs::guest_tr_selector) == 0x20);
    CHECK(e.get(vmcs::guest_cr0) == 0x31);
    CHECK(e.get(vmcs::cr0_read_shadow) == 0x11);
    CHECK(e.get(vmcs::guest_cr3) == 0);
    CHECK(e.get(vmcs::guest_efer) == 0);
    CHECK(e.get(vmcs::entry_controls) == kEntry);
    CHECK(e.get(vmcs::guest_rip) == 0x10'0000);
}

TEST_CASE("long mode: paging, PAE, LME/LMA, a 64-bit code segment and the IA-32e entry control") {
    Entered e(EntryMode::long64);
    CHECK(e.get(vmcs::guest_cs_selector) == 0x10);
    CHECK(e.get(vmcs::guest_cs_access) == 0xa09b);
    CHECK(e.get(vmcs::guest_cr0) == (kPg | kWp | kNe | 0x10 | kPe));
    CHECK(e.get(vmcs::cr0_read_shadow) == (kPg | kWp | 0x10 | kPe));
    CHECK(e.get(vmcs::guest_cr4) == (kPae | kVmxe));
    CHECK(e.get(vmcs::cr4_read_shadow) == kPae);
    CHECK(e.get(vmcs::guest_cr3) == 0x3000);
    CHECK(e.get(vmcs::guest_efer) == 0x500);
    CHECK(e.get(vmcs::entry_controls) == (kEntry | entry_ctl::ia32e_mode_guest));

    // Entering another mode afterwards clears the IA-32e control again, leaving the rest alone.
    GuestRegisters regs{};
    write_guest_entry_state(e.vmcs, regs, GuestEntry{EntryMode::protected32, 0x10'0000}, cr_policy(e.msrs));
    CHECK(e.get(vmcs::entry_controls) == kEntry);
    CHECK(e.get(vmcs::guest_efer) == 0);
    CHECK(entry_violations(e.vmcs, e.msrs).empty());
}

TEST_CASE("the checker itself: each broken field is caught") {
    struct Break {
        VmcsField field;
        std::uint64_t value;
        const char* violation;
    };
    const Break breaks[] = {
        {vmcs::guest_tr_access, 0x89, "TR type (busy TSS)"},
        {vmcs::guest_cs_access, 0xc091, "CS type"},  // type 3 would be allowed: unrestricted guest
        {vmcs::guest_cs_limit, 0xffff'f000, "CS limit and G"},
        {vmcs::guest_ss_access, 0xc0f3, "CS.DPL = SS.DPL"},
        {vmcs::guest_ds_access, 0xc092, "DS accessed"},
        {vmcs::guest_rflags, 0x0, "RFLAGS bit 1"},
        {vmcs::vmcs_link_pointer, 0x0, "VMCS link pointer"},
        {vmcs::guest_cr4, 0x0, "CR4 fixed-0 bits"},
        {vmcs::guest_cr0, 0x8000'0030, "CR0.PG without PE"},
        {vmcs::guest_efer, 0x400, "EFER.LMA = IA-32e mode guest"},
        {vmcs::entry_controls, kEntry | entry_ctl::ia32e_mode_guest, "IA-32e mode without CR0.PG and CR4.PAE"},
        {vmcs::guest_rip, 0x1'0000'0000, "RIP bits 63:32"},
        {vmcs::guest_ldtr_access, 0x83, "LDTR type"},
    };
    for (const Break& b : breaks) {
        std::string expected = b.violation;
        CAPTURE(expected);
        Entered e(EntryMode::protected32);
        REQUIRE(entry_violations(e.vmcs, e.msrs).empty());
        e.vmcs.set(b.field, b.value);
        auto bad = entry_violations(e.vmcs, e.msrs);
        bool found = false;
        for (const auto& x : bad) found |= x == b.violation;
        CHECK_MESSAGE(found, joined(bad));
    }
}

}  // TEST_SUITE
