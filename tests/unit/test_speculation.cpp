// Transient-execution mitigations (arch-x86_64/vmx/speculation.hpp; issue 14, item 4) decided
// from what real processors report: CPUID.(7,0) EDX/EBX and IA32_ARCH_CAPABILITIES as Linux
// prints them for Skylake-SP (2019+ microcode, no ARCH_CAPABILITIES), Cascade Lake (TSX on) and
// Ice Lake-SP, and a processor without the microcode updates; Bochs enumerates none of them, so
// only these tests see the decisions that matter on a server. Then what the guest sees: leaf 7,
// IA32_ARCH_CAPABILITIES, the MSR bitmap, IA32_SPEC_CTRL in checkpoints.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "arch-x86_64/vmx/access_bitmaps.hpp"
#include "arch-x86_64/vmx/cpu_state_capture.hpp"
#include "arch-x86_64/vmx/cpuid_policy.hpp"
#include "arch-x86_64/vmx/speculation.hpp"
#include "ckpt_fake_cpu_platform.hpp"
#include "ckpt_memory.hpp"
#include "cpu_generations.hpp"
#include "vmx_fake_vcpu.hpp"

using namespace tandem::x86;
using test::CpuidTable;

namespace {

constexpr std::uint32_t kMdClear = 1u << 10, kIbrs = 1u << 26, kStibp = 1u << 27, kL1dFlush = 1u << 28,
                        kArchCaps = 1u << 29, kCoreCaps = 1u << 30, kSsbd = 1u << 31;
constexpr std::uint32_t kRtm = 1u << 11;

SpeculationFacts facts(std::uint32_t leaf7_ebx, std::uint32_t leaf7_edx, std::uint64_t arch_caps) {
    CpuidTable cpu(test::skylake_sp());
    cpu.leaves()[{0, 0}] = {0x16, 0, 0, 0};
    cpu.leaves()[{7, 0}] = {0, leaf7_ebx, 0, leaf7_edx};
    return speculation_facts(cpu, arch_caps);
}

std::string line(const SpeculationFacts& f) {
    std::vector<char> buffer(1024);
    tandem::BufferWriter out(buffer.data(), buffer.size());
    report_speculation(out, f, plan_speculation(f));
    return std::string(out.view());
}

}  // namespace

TEST_SUITE("speculation") {

TEST_CASE("Skylake-SP with the 2019 microcode: L1D flush before every entry, which clears the buffers too") {
    SpeculationFacts f = facts(kRtm, kMdClear | kIbrs | kStibp | kL1dFlush | kSsbd, 0x1234);
    CHECK_FALSE(f.has_arch_capabilities);
    CHECK(f.arch_capabilities == 0);  // not enumerated: never read, never believed
    SpeculationPlan p = plan_speculation(f);
    CHECK(p.flush_l1d_before_entry);
    CHECK_FALSE(p.verw_before_entry);
    CHECK_FALSE(p.l1tf_unmitigated);
    CHECK_FALSE(p.mds_unmitigated);
    CHECK(p.guest_spec_ctrl);
    CHECK(p.guest_pred_cmd);
    CHECK(p.guest_flush_cmd);
    CHECK(p.guest_leaf7_edx == (kMdClear | kIbrs | kStibp | kL1dFlush | kSsbd));
    CHECK(line(f).rfind("cpu: speculation: before every VM entry: L1D flush (it clears the CPU buffers too); the "
                        "guest gets IBRS/IBPB yes STIBP yes SSBD yes L1D_FLUSH yes MD_CLEAR yes ARCH_CAPABILITIES no",
                        0) == 0);
}

TEST_CASE("Cascade Lake with TSX: not affected by L1TF or MDS, but TAA: VERW before every entry") {
    // ARCH_CAPABILITIES 0xab: RDCL_NO, IBRS_ALL, SKIP_L1DFL_VMENTRY, MDS_NO, TSX_CTRL; no TAA_NO.
    SpeculationFacts f = facts(kRtm, kMdClear | kIbrs | kStibp | kL1dFlush | kArchCaps | kSsbd, 0xab);
    SpeculationPlan p = plan_speculation(f);
    CHECK_FALSE(p.flush_l1d_before_entry);
    CHECK(p.verw_before_entry);
    CHECK(p.guest_arch_capabilities == 0x2b);  // TSX_CTRL names an MSR the guest does not get
    CHECK((p.guest_leaf7_edx & kArchCaps) != 0);
    // The same processor with TSX disabled (no RTM): nothing before entry.
    SpeculationPlan no_tsx = plan_speculation(facts(0, kMdClear | kIbrs | kStibp | kL1dFlush | kArchCaps | kSsbd, 0xab));
    CHECK_FALSE(no_tsx.verw_before_entry);
    CHECK_FALSE(no_tsx.flush_l1d_before_entry);
}

TEST_CASE("Ice Lake-SP and Sapphire Rapids: not affected, nothing before entry, every control to the guest") {
    for (const test::CpuGeneration* cpu : {&test::ice_lake_sp(), &test::sapphire_rapids()}) {
        CAPTURE(cpu->name);
        CpuidTable table(*cpu);
        table.leaves()[{0, 0}] = {0x20, 0, 0, 0};
        CpuidValues leaf7 = table.cpuid(7, 0);
        leaf7.edx |= kMdClear | kIbrs | kStibp | kL1dFlush | kArchCaps | kSsbd;
        table.leaves()[{7, 0}] = leaf7;
        // RDCL_NO, IBRS_ALL, SKIP_L1DFL_VMENTRY, MDS_NO, IF_PSCHANGE_MC_NO, TSX_CTRL, TAA_NO.
        SpeculationFacts f = speculation_facts(table, 0x1eb);
        SpeculationPlan p = plan_speculation(f);
        CHECK_FALSE(p.flush_l1d_before_entry);
        CHECK_FALSE(p.verw_before_entry);
        CHECK_FALSE(p.l1tf_unmitigated);
        CHECK_FALSE(p.mds_unmitigated);
        CHECK(p.guest_arch_capabilities == 0x16b);
        CHECK(line(f).rfind("cpu: speculation: before every VM entry: no L1D flush (not affected), no VERW (not "
                            "affected by MDS/TAA);", 0) == 0);
    }
}

TEST_CASE("a processor without the microcode updates: affected and unmitigated, and said so") {
    SpeculationFacts f = facts(kRtm, 0, 0);
    SpeculationPlan p = plan_speculation(f);
    CHECK(p.l1tf_unmitigated);
    CHECK(p.mds_unmitigated);
    CHECK_FALSE(p.flush_l1d_before_entry);
    CHECK_FALSE(p.verw_before_entry);
    CHECK_FALSE(p.guest_spec_ctrl);
    CHECK(p.guest_leaf7_edx == 0);
    CHECK(line(f).find("NONE for L1TF (affected, no IA32_FLUSH_CMD: update the microcode), NONE for MDS/TAA") !=
          std::string::npos);
    // MD_CLEAR only (no L1D_FLUSH): VERW covers MDS, L1TF stays open.
    SpeculationPlan verw_only = plan_speculation(facts(0, kMdClear, 0));
    CHECK(verw_only.verw_before_entry);
    CHECK(verw_only.l1tf_unmitigated);
}

TEST_CASE("the guest's leaf 7 EDX: the controls the plan gives, never CORE_CAPABILITIES") {
    CpuidTable host(test::skylake_sp());
    host.leaves()[{0, 0}] = {0x16, 0, 0, 0};
    host.leaves()[{7, 0}] = {0, 0, 0, kMdClear | kIbrs | kStibp | kL1dFlush | kArchCaps | kCoreCaps | kSsbd};
    CpuidPolicy hidden;
    CHECK((guest_cpuid(host, hidden, 7, 0, 0).edx & (kMdClear | kIbrs | kStibp | kL1dFlush | kArchCaps | kCoreCaps |
                                                     kSsbd)) == 0);
    CpuidPolicy given;
    given.leaf7_edx_speculation = plan_speculation(speculation_facts(host, 0x2b)).guest_leaf7_edx;
    CHECK(guest_cpuid(host, given, 7, 0, 0).edx == (kMdClear | kIbrs | kStibp | kL1dFlush | kArchCaps | kSsbd));
}

TEST_CASE("IA32_ARCH_CAPABILITIES: the plan's value to read, #GP to write, #GP when not enumerated") {
    VcpuConfig config = test::VcpuRig::default_config();
    config.arch_capabilities = true;
    config.arch_capabilities_value = 0x2b;
    test::VcpuRig rig(tandem::guest_boot::EntryMode::protected32, config);
    rig.reg(Gpr::rcx) = 0x10a;
    rig.exit(ExitReason::rdmsr, 0, 2);
    CHECK(rig.injects_nothing());
    CHECK(rig.reg(Gpr::rax) == 0x2b);
    CHECK(rig.reg(Gpr::rdx) == 0);
    rig.exit(ExitReason::wrmsr, 0, 2);
    CHECK(rig.injected() == 0x80000b0d);

    test::VcpuRig absent;
    absent.reg(Gpr::rcx) = 0x10a;
    absent.exit(ExitReason::rdmsr, 0, 2);
    CHECK(absent.injected() == 0x80000b0d);
}

TEST_CASE("the MSR bitmap: SPEC_CTRL, PRED_CMD and FLUSH_CMD to the hardware only when the processor has them") {
    std::uint32_t out[3];
    CHECK(speculation_passthrough_msrs(false, false, false, out) == 0);
    REQUIRE(speculation_passthrough_msrs(true, true, true, out) == 3);
    CHECK(out[0] == kMsrSpecCtrl);
    CHECK(out[1] == kMsrPredCmd);
    CHECK(out[2] == kMsrFlushCmd);
    REQUIRE(speculation_passthrough_msrs(true, false, false, out) == 1);
    CHECK(out[0] == kMsrSpecCtrl);
}

TEST_CASE("IA32_SPEC_CTRL travels in checkpoints where the processor has it, and only there") {
    test::FakeVmcs vmcs;
    GuestRegisters regs{};
    ckpt::FakeCpuPlatform platform;
    platform.msrs[kMsrSpecCtrl] = 0x5;  // IBRS and SSBD, as the guest set them
    auto state = std::make_unique<tandem::checkpoint::CpuState>();
    REQUIRE(ckpt::err(capture_cpu_state(vmcs, regs, platform, *state)) == "");
    ckpt::FakeCpuPlatform target;
    CrPolicy any{0, ~0ull, 0, ~0ull, 0, 0};
    test::FakeVmcs fresh;
    GuestRegisters fresh_regs{};
    REQUIRE(ckpt::err(restore_cpu_state(*state, fresh, fresh_regs, target, any)) == "");
    CHECK(target.msrs[kMsrSpecCtrl] == 0x5);

    ckpt::FakeCpuPlatform without;
    without.spec_ctrl = false;
    auto none = std::make_unique<tandem::checkpoint::CpuState>();
    REQUIRE(ckpt::err(capture_cpu_state(vmcs, regs, without, *none)) == "");
    CHECK(none->field_count() + 1 == state->field_count());
    REQUIRE(ckpt::err(restore_cpu_state(*state, fresh, fresh_regs, without, any)) == "");
    CHECK(without.msrs.count(kMsrSpecCtrl) == 0);  // never written where it would #GP
}

}  // TEST_SUITE
