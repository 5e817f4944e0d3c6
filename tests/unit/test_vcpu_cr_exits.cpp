// Control-register and XSETBV exits (arch-x86_64/vmx/vcpu_cr.cpp, vcpu.cpp). The guest starts
// as write_guest_entry_state leaves it with skylake_x's CR fixed bits: CR0.NE and bits 63:32, and
// CR4.VMXE plus every CR4 bit the CPU lacks, are tandem's (guest/host masks); everything else,
// PE, PG and PAE included, is the guest's and changes without an exit.
#include <doctest/doctest.h>

#include <string>

#include "arch-x86_64/vmx/vmx_controls.hpp"
#include "cpu_generations.hpp"
#include "vmx_fake_vcpu.hpp"

using namespace tandem;
using namespace tandem::x86;
using guest_boot::EntryMode;
using test::kInjectGp;
using test::VcpuRig;

namespace {

constexpr std::uint64_t mov_to_cr(unsigned cr, unsigned gpr) { return cr | (gpr << 8); }
constexpr std::uint64_t mov_from_cr(unsigned cr, unsigned gpr) { return cr | 0x10 | (gpr << 8); }
constexpr std::uint64_t kClts = 0x20;
constexpr std::uint64_t lmsw(std::uint16_t source) { return 0x30 | (std::uint64_t{source} << 16); }
constexpr unsigned kRax = 0, kRbx = 3, kRsp = 4, kR12 = 12;
constexpr std::uint64_t kEntryIa32e = VcpuRig::kEntry | entry_ctl::ia32e_mode_guest;

// MOV CRn, RAX with the given value; true when it completed (RIP advanced, nothing injected).
bool mov_cr(VcpuRig& rig, unsigned cr, std::uint64_t value) {
    rig.reg(Gpr::rax) = value;
    std::uint64_t rip = rig.rip();
    rig.exit(ExitReason::cr_access, mov_to_cr(cr, kRax), 3);
    bool done = rig.rip() == rip + 3;
    CHECK(done == rig.injects_nothing());
    if (!done) CHECK(rig.injected() == kInjectGp);
    return done;
}

bool xsetbv(VcpuRig& rig, std::uint32_t xcr, std::uint64_t value) {
    rig.reg(Gpr::rcx) = xcr;
    rig.reg(Gpr::rax) = value & 0xffffffff;
    rig.reg(Gpr::rdx) = value >> 32;
    std::uint64_t rip = rig.rip();
    rig.exit(ExitReason::xsetbv, 0, 3);
    bool done = rig.rip() == rip + 3;
    CHECK(done == rig.injects_nothing());
    return done;
}

}  // namespace

TEST_SUITE("vcpu_cr_exits") {

TEST_CASE("MOV to CR0 changing NE: the shadow takes the guest's value, the CPU keeps NE set") {
    VcpuRig rig;
    REQUIRE(rig.get(vmcs::cr0_read_shadow) == 0x11);
    REQUIRE(rig.get(vmcs::guest_cr0) == 0x31);
    CHECK(mov_cr(rig, 0, 0x31));
    CHECK(rig.get(vmcs::cr0_read_shadow) == 0x31);
    CHECK(rig.get(vmcs::guest_cr0) == 0x31);
    CHECK(mov_cr(rig, 0, 0x60000011));  // NE off again, caches off: CD and NW are the guest's
    CHECK(rig.get(vmcs::cr0_read_shadow) == 0x60000011);
    CHECK(rig.get(vmcs::guest_cr0) == 0x60000031);

    // From R12, and from RSP, which lives in the VMCS.
    rig.reg(Gpr::r12) = 0x33;
    rig.exit(ExitReason::cr_access, mov_to_cr(0, kR12), 3);
    CHECK(rig.get(vmcs::cr0_read_shadow) == 0x33);
    rig.vmcs.set(vmcs::guest_rsp, 0x13);
    rig.exit(ExitReason::cr_access, mov_to_cr(0, kRsp), 3);
    CHECK(rig.get(vmcs::cr0_read_shadow) == 0x13);
    CHECK(rig.get(vmcs::guest_cr0) == 0x33);
    CHECK(rig.injects_nothing());
}

TEST_CASE("MOV to CR0: outside 64-bit mode the operand is the register's low 32 bits") {
    VcpuRig rig;
    CHECK(mov_cr(rig, 0, 0x1'0000'0031ull));
    CHECK(rig.get(vmcs::cr0_read_shadow) == 0x31);
}

TEST_CASE("MOV to CR0/CR4 in 64-bit mode: bits above 31 are #GP(0)") {
    VcpuRig rig;
    rig.vmcs.set(vmcs::guest_efer, 0x500);
    rig.vmcs.set(vmcs::guest_cs_access, rig.get(vmcs::guest_cs_access) | (1u << 13));
    rig.vmcs.set(vmcs::guest_cr0, 0x80000031);
    rig.vmcs.set(vmcs::cr0_read_shadow, 0x80000011);
    rig.vmcs.set(vmcs::guest_cr4, 0x2020);
    CHECK_FALSE(mov_cr(rig, 0, 0x1'8000'0011ull));
    CHECK_FALSE(mov_cr(rig, 4, (1ull << 32) | 0x20));
    // Paging cannot be turned off from 64-bit mode.
    CHECK_FALSE(mov_cr(rig, 0, 0x11));
    CHECK(rig.get(vmcs::cr0_read_shadow) == 0x80000011);
}

TEST_CASE("MOV to CR0: values the SDM makes #GP(0)") {
    VcpuRig rig;
    for (std::uint64_t bad : {0x8000'0030ull, 0x2000'0031ull}) {
        CAPTURE(bad);
        CHECK_FALSE(mov_cr(rig, 0, bad));
        CHECK(rig.get(vmcs::cr0_read_shadow) == 0x11);
        CHECK(rig.get(vmcs::guest_cr0) == 0x31);
    }
    CHECK(rig.vcpu.running());
}

TEST_CASE("paging on with EFER.LME activates IA-32e mode; paging off leaves it") {
    VcpuRig rig;
    CHECK(mov_cr(rig, 4, 0x20));  // PAE, written so that it exits here
    CHECK(rig.get(vmcs::cr4_read_shadow) == 0x20);
    CHECK(rig.get(vmcs::guest_cr4) == 0x2020);
    rig.vmcs.set(vmcs::guest_efer, 0x100);
    CHECK(mov_cr(rig, 0, 0x8000'0031));
    CHECK(rig.get(vmcs::guest_efer) == 0x500);
    CHECK(rig.get(vmcs::entry_controls) == kEntryIa32e);
    CHECK(rig.get(vmcs::guest_cr0) == 0x8000'0031);
    CHECK(mov_cr(rig, 0, 0x31));
    CHECK(rig.get(vmcs::guest_efer) == 0x100);
    CHECK(rig.get(vmcs::entry_controls) == VcpuRig::kEntry);

    // Without PAE, paging with LME is #GP and nothing changes.
    VcpuRig no_pae;
    no_pae.vmcs.set(vmcs::guest_efer, 0x100);
    CHECK_FALSE(mov_cr(no_pae, 0, 0x8000'0031));
    CHECK(no_pae.get(vmcs::guest_efer) == 0x100);
    CHECK(no_pae.get(vmcs::entry_controls) == VcpuRig::kEntry);
    CHECK(no_pae.get(vmcs::cr0_read_shadow) == 0x11);

    // Without LME, paging is plain 32-bit paging.
    VcpuRig legacy;
    CHECK(mov_cr(legacy, 0, 0x8000'0031));
    CHECK(legacy.get(vmcs::guest_efer) == 0);
    CHECK(legacy.get(vmcs::entry_controls) == VcpuRig::kEntry);
}

// Regression test (bug found and fixed): vcpu_cr.cpp set_cr0 takes CR4.PAE and the old CR0.PG from the read shadows
// (`vmcs_.read(vmcs::cr4_read_shadow) & kCr4Pae`, `old = vmcs_.read(vmcs::cr0_read_shadow)`).
// With unrestricted guest those bits are not in the guest/host masks, so the guest changes
// them without an exit and the shadows keep stale values; the guest's real bits are in
// GUEST_CR0/GUEST_CR4. A 32-bit guest entering long mode the usual way (CR4.PAE without an
// exit, EFER.LME, then CR0 = PG|NE|... which exits because NE is host-owned) gets #GP; one
// that turned paging on without an exit and later turns it off keeps LMA and the IA-32e entry
// control with CR0.PG = 0, which fails the next VM entry (SDM Vol. 3C §27.3.1.1).
TEST_CASE("IA-32e mode follows the guest's real CR4.PAE and CR0.PG, not the stale shadows") {
    VcpuRig rig;
    rig.vmcs.set(vmcs::guest_cr4, rig.get(vmcs::guest_cr4) | 0x20);  // MOV CR4 (PAE): no exit
    rig.vmcs.set(vmcs::guest_efer, 0x100);                           // WRMSR EFER.LME
    CHECK(mov_cr(rig, 0, 0x8000'0031));                               // Linux's CR0_STATE has NE
    CHECK(rig.get(vmcs::guest_efer) == 0x500);
    CHECK(rig.get(vmcs::entry_controls) == kEntryIa32e);

    VcpuRig off;
    off.vmcs.set(vmcs::guest_cr4, off.get(vmcs::guest_cr4) | 0x20);
    off.vmcs.set(vmcs::guest_cr0, 0x8000'0031);  // MOV CR0 (PG, NE unchanged): no exit; the CPU
    off.vmcs.set(vmcs::guest_efer, 0x500);       // activated IA-32e mode itself
    off.vmcs.set(vmcs::entry_controls, kEntryIa32e);
    CHECK(mov_cr(off, 0, 0x31));  // paging off, NE on: exits
    CHECK(off.get(vmcs::guest_efer) == 0x100);
    CHECK(off.get(vmcs::entry_controls) == VcpuRig::kEntry);
}

TEST_CASE("MOV to CR4: VMXE, SMXE and bits the CPU lacks are #GP; the rest is the guest's") {
    VcpuRig rig;
    for (std::uint64_t bad : {0x2000ull, 0x4000ull, 0x1000ull /* LA57 */, 0x800ull /* UMIP */,
                              0x2000ull | 0x20}) {
        CAPTURE(bad);
        CHECK_FALSE(mov_cr(rig, 4, bad));
        CHECK(rig.get(vmcs::cr4_read_shadow) == 0);
        CHECK(rig.get(vmcs::guest_cr4) == 0x2000);
    }
    CHECK(mov_cr(rig, 4, 0x40620));  // PAE, OSFXSR, OSXMMEXCPT, OSXSAVE
    CHECK(rig.get(vmcs::cr4_read_shadow) == 0x40620);
    CHECK(rig.get(vmcs::guest_cr4) == 0x42620);

    // In IA-32e mode PAE cannot be cleared.
    VcpuRig lm(EntryMode::long64);
    REQUIRE(lm.get(vmcs::guest_efer) == 0x500);
    CHECK_FALSE(mov_cr(lm, 4, 0x0));
    CHECK(lm.get(vmcs::cr4_read_shadow) == 0x20);
    CHECK(mov_cr(lm, 4, 0x10020));  // FSGSBASE
    CHECK(lm.get(vmcs::guest_cr4) == 0x12020);
}

TEST_CASE("MOV from CR3 into a GPR or RSP; CLTS and LMSW") {
    VcpuRig rig(EntryMode::long64);
    rig.exit(ExitReason::cr_access, mov_from_cr(3, kRbx), 3);
    CHECK(rig.reg(Gpr::rbx) == 0x3000);
    CHECK(rig.rip() == VcpuRig::kRip + 3);
    rig.exit(ExitReason::cr_access, mov_from_cr(3, kRsp), 3);
    CHECK(rig.get(vmcs::guest_rsp) == 0x3000);
    CHECK(rig.reg(Gpr::rsp) == 0);  // the GPR slot for RSP stays unused

    VcpuRig p;
    p.vmcs.set(vmcs::cr0_read_shadow, 0x19);  // TS set
    p.exit(ExitReason::cr_access, kClts, 2);
    CHECK(p.get(vmcs::cr0_read_shadow) == 0x11);
    p.exit(ExitReason::cr_access, lmsw(0xe), 3);  // MP, EM, TS
    CHECK(p.get(vmcs::cr0_read_shadow) == 0x1f);
    p.exit(ExitReason::cr_access, lmsw(0xfff0), 3);  // LMSW cannot clear PE; bits above 3 ignored
    CHECK(p.get(vmcs::cr0_read_shadow) == 0x11);
    CHECK(p.rip() == VcpuRig::kRip + 8);

    VcpuRig real(EntryMode::real16);
    REQUIRE(real.get(vmcs::cr0_read_shadow) == 0x10);
    real.exit(ExitReason::cr_access, lmsw(0x1), 3);  // but it can set PE
    CHECK(real.get(vmcs::cr0_read_shadow) == 0x11);
    CHECK(real.get(vmcs::guest_cr0) == 0x31);
}

TEST_CASE("CR3 and CR8 writes, CR8 reads: not emulated, the guest stops") {
    for (std::uint64_t q : {mov_to_cr(3, kRax), mov_to_cr(8, kRbx), mov_from_cr(8, kRax), mov_from_cr(0, kRax)}) {
        CAPTURE(q);
        VcpuRig rig;
        rig.exit(ExitReason::cr_access, q, 3);
        CHECK_FALSE(rig.vcpu.running());
        CHECK(std::string(rig.vcpu.end().reason) ==
              "control-register access tandem does not emulate (CR3 or CR8 exiting)");
        CHECK(rig.rip() == VcpuRig::kRip);
        CHECK(rig.text().find("vm:   exit reason 28 (control-register access)") != std::string::npos);
    }
}

TEST_CASE("XSETBV: valid values reach the CPU; invalid ones are #GP(0) and never do") {
    VcpuRig rig;
    CHECK(xsetbv(rig, 0, 0x7));
    CHECK(xsetbv(rig, 0, 0x2e7));  // with the whole AVX-512 state and PKRU
    CHECK(xsetbv(rig, 0, 0x1f));   // MPX state: both components
    CHECK(rig.platform.xcr0_writes == std::vector<std::uint64_t>{0x7, 0x2e7, 0x1f});

    rig.platform.xcr0_writes.clear();
    CHECK_FALSE(xsetbv(rig, 1, 0x3));             // only XCR0 exists
    CHECK_FALSE(xsetbv(rig, 0, 0x6));             // x87 state cannot be disabled
    CHECK_FALSE(xsetbv(rig, 0, 0x5));             // AVX without SSE
    CHECK_FALSE(xsetbv(rig, 0, 0x403));           // bit 10: not supported here
    CHECK_FALSE(xsetbv(rig, 0, (1ull << 32) | 3));
    rig.vmcs.set(vmcs::guest_ss_access, 0xc0f3);  // CPL 3
    CHECK_FALSE(xsetbv(rig, 0, 0x3));
    CHECK(rig.platform.xcr0_writes.empty());
    CHECK(rig.injected() == kInjectGp);
    rig.vmcs.set(vmcs::guest_ss_access, 0xc093);

    rig.platform.accept_xcr0 = false;  // the CPU refused it after all
    CHECK_FALSE(xsetbv(rig, 0, 0x3));
    CHECK(rig.injected() == kInjectGp);

    // A CPU without XSAVE: XSETBV is undefined.
    VcpuConfig no_xsave = VcpuRig::default_config();
    no_xsave.supported_xcr0 = 0;
    VcpuRig old(EntryMode::protected32, no_xsave);
    CHECK_FALSE(xsetbv(old, 0, 0x3));
    CHECK(old.injected() == test::kInjectUd);
    CHECK(old.platform.xcr0_writes.empty());
}

// Regression test (bug found and fixed): vcpu.cpp on_xsetbv checks only bit 0, AVX-needs-SSE and the supported mask. XSETBV also
// raises #GP(0) when the AVX-512 components (bits 7:5) are not all equal, when they are set
// without AVX (bit 2), and when the MPX components (bits 4:3) differ (SDM Vol. 2D, XSETBV,
// "Protected Mode Exceptions"; Vol. 1 §13.3). Such a value is passed to set_xcr0, and the
// machine platform (machine_platform.cpp MachinePlatform::write_xcr0, which repeats the same
// incomplete checks) executes XSETBV with it in VMX root operation: the #GP hits tandem itself,
// so a guest can bring the hypervisor down.
TEST_CASE("XSETBV: inconsistent AVX-512 and MPX component sets are #GP(0)") {
    VcpuRig rig;
    for (std::uint64_t bad : {0x27ull /* opmask only */, 0xe3ull /* AVX-512 without AVX */,
                              0x67ull /* no Hi16_ZMM */, 0xbull /* BNDREGS without BNDCSR */,
                              0x13ull /* BNDCSR without BNDREGS */}) {
        CAPTURE(bad);
        CHECK_FALSE(xsetbv(rig, 0, bad));
        CHECK(rig.injected() == kInjectGp);
    }
    CHECK(rig.platform.xcr0_writes.empty());
}

// Regression test (issue 14): on a processor with AMX (Sapphire Rapids and later, XCR0 bits 17
// and 18), XSETBV #GPs unless both tile components are set or both clear (SDM Vol. 1 §13.3). The
// vCPU did not check that, and MachinePlatform::write_xcr0 then executed XSETBV with the value in
// VMX root operation: a #GP in the hypervisor. Even where AMX is among the components the guest
// may enable, one tile bit alone is #GP(0) in the guest and never reaches the CPU.
TEST_CASE("XSETBV: on a Sapphire Rapids host, one AMX tile component alone is #GP(0)") {
    VcpuConfig amx = VcpuRig::default_config();
    amx.supported_xcr0 = test::sapphire_rapids().xcr0;
    VcpuRig rig(EntryMode::protected32, amx);
    for (std::uint64_t bad : {0x202e7ull, 0x402e7ull, 0x20007ull, 0x40003ull}) {
        CAPTURE(bad);
        CHECK_FALSE(xsetbv(rig, 0, bad));
        CHECK(rig.injected() == kInjectGp);
    }
    CHECK(rig.platform.xcr0_writes.empty());
    CHECK(xsetbv(rig, 0, 0x602e7));
    CHECK(rig.platform.xcr0_writes == std::vector<std::uint64_t>{0x602e7});
}

}  // TEST_SUITE
