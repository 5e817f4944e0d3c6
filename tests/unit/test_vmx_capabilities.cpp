// VT-x capability decoding and the verdict on it (arch-x86_64/vmx/vmx_capabilities.hpp), from
// MSR values Bochs's CPU models report (fixture vmx_msrs_bochs.txt).
#include <doctest/doctest.h>

#include <map>
#include <sstream>
#include <string>

#include "arch-x86_64/vmx/vmx_capabilities.hpp"
#include "helpers.hpp"

using namespace tandem;
using namespace tandem::x86;

namespace {

struct Model {
    VmxCapabilityMsrs msrs;
    std::string line;  // "feature_control=... ept_vpid_cap=...", as the boot report printed it
};

const std::map<std::string, Model>& models() {
    static const std::map<std::string, Model> all = [] {
        std::map<std::string, Model> out;
        std::istringstream in(test::read_text_fixture("vmx_msrs_bochs.txt"));
        std::string line;
        while (std::getline(in, line)) {
            if (line.empty() || line[0] == '#') continue;
            std::istringstream words(line);
            std::string name, field;
            words >> name;
            Model m;
            m.msrs.cpuid_vmx = true;
            m.line = line.substr(name.size() + 1);
            std::map<std::string, std::uint64_t*> slots = {
                {"feature_control", &m.msrs.feature_control}, {"basic", &m.msrs.basic},
                {"pinbased", &m.msrs.pinbased},             {"procbased", &m.msrs.procbased},
                {"procbased2", &m.msrs.procbased2},         {"exit", &m.msrs.exit},
                {"entry", &m.msrs.entry},                   {"misc", &m.msrs.misc},
                {"ept_vpid_cap", &m.msrs.ept_vpid_cap},     {"cr0_fixed0", &m.msrs.cr0_fixed0},
                {"cr0_fixed1", &m.msrs.cr0_fixed1},         {"cr4_fixed0", &m.msrs.cr4_fixed0},
                {"cr4_fixed1", &m.msrs.cr4_fixed1}};
            std::size_t fields = 0;
            while (words >> field) {
                std::size_t eq = field.find('=');
                REQUIRE(eq != std::string::npos);
                REQUIRE(slots.count(field.substr(0, eq)) == 1);
                *slots[field.substr(0, eq)] = std::stoull(field.substr(eq + 1), nullptr, 16);
                ++fields;
            }
            REQUIRE(fields >= 9);  // the nine capability MSRs; the CR fixed-bit MSRs are optional
            out[name] = m;
        }
        return out;
    }();
    return all;
}

VmxCapabilityMsrs msrs_of(const char* name) {
    REQUIRE(models().count(name) == 1);
    return models().at(name).msrs;
}

VmxVerdict verdict_of(const VmxCapabilityMsrs& m) { return judge_vmx(decode_vmx_capabilities(m)); }

bool starts_with(const char* text, const std::string& prefix) {
    return text != nullptr && std::string(text).rfind(prefix, 0) == 0;
}

std::string report(const VmxCapabilityMsrs& m) {
    test::StringWriter out;
    VmxCapabilities c = decode_vmx_capabilities(m);
    report_vmx(out, m, c, judge_vmx(c));
    return out.str();
}

}  // namespace

TEST_SUITE("vmx_capabilities") {

TEST_CASE("the fixture holds the six Bochs models") {
    CHECK(models().size() == 6);
    for (const char* name : {"corei7_skylake_x", "tigerlake", "broadwell_ult", "corei7_haswell_4770",
                             "corei7_ivy_bridge_3770k", "core2_penryn_t9600"}) {
        CHECK(models().count(name) == 1);
    }
}

TEST_CASE("skylake_x decodes fully and is usable with PML") {
    VmxCapabilities c = decode_vmx_capabilities(msrs_of("corei7_skylake_x"));
    CHECK(c.vmx);
    CHECK(c.feature_control_locked);
    CHECK(c.vmx_enabled_by_firmware);
    CHECK(c.vmcs_revision == 0x2b);
    CHECK(c.vmcs_size == 4096);
    CHECK(c.vmcs_write_back);
    CHECK_FALSE(c.vmcs_32bit_addresses);
    CHECK(c.true_controls);
    CHECK(c.io_bitmaps);
    CHECK(c.msr_bitmaps);
    CHECK(c.secondary_controls);
    CHECK(c.preemption_timer);
    CHECK(c.preemption_timer_shift == 0);
    CHECK(c.ept);
    CHECK(c.ept_walk_4);
    CHECK(c.ept_write_back);
    CHECK(c.ept_2m_pages);
    CHECK(c.ept_1g_pages);
    CHECK(c.ept_accessed_dirty);
    CHECK(c.invept);
    CHECK(c.invept_single_context);
    CHECK(c.invept_all_contexts);
    CHECK(c.pml);
    CHECK(c.vpid);
    CHECK(c.invvpid);
    CHECK(c.unrestricted_guest);
    VmxVerdict v = judge_vmx(c);
    CHECK(v.usable);
    CHECK(v.refusal == nullptr);
    CHECK(v.dirty == DirtyTracking::pml);
}

TEST_CASE("verdicts per CPU model") {
    struct Expect {
        const char* model;
        bool pml, ad;
        DirtyTracking dirty;
    };
    for (const Expect& e : {Expect{"tigerlake", true, true, DirtyTracking::pml},
                            Expect{"broadwell_ult", false, true, DirtyTracking::ad_bits},
                            Expect{"corei7_haswell_4770", false, true, DirtyTracking::ad_bits},
                            Expect{"corei7_ivy_bridge_3770k", false, false, DirtyTracking::write_protect}}) {
        CAPTURE(e.model);
        VmxCapabilities c = decode_vmx_capabilities(msrs_of(e.model));
        CHECK(c.ept);
        CHECK(c.pml == e.pml);
        CHECK(c.ept_accessed_dirty == e.ad);
        VmxVerdict v = judge_vmx(c);
        CHECK(v.usable);
        CHECK(v.refusal == nullptr);
        CHECK(v.dirty == e.dirty);
    }
    CHECK(decode_vmx_capabilities(msrs_of("tigerlake")).vmcs_revision == 4);

    VmxCapabilities penryn = decode_vmx_capabilities(msrs_of("core2_penryn_t9600"));
    CHECK(penryn.vmx);
    CHECK(penryn.secondary_controls);
    CHECK_FALSE(penryn.ept);
    CHECK_FALSE(penryn.pml);
    CHECK_FALSE(penryn.unrestricted_guest);
    VmxVerdict v = judge_vmx(penryn);
    CHECK_FALSE(v.usable);
    CHECK(starts_with(v.refusal, "EPT not supported: IA32_VMX_PROCBASED_CTLS2 does not allow 'enable EPT'"));
}

TEST_CASE("refusals for each missing feature") {
    const VmxCapabilityMsrs sky = msrs_of("corei7_skylake_x");
    auto refusal_with = [&](auto change) {
        VmxCapabilityMsrs m = sky;
        change(m);
        VmxVerdict v = verdict_of(m);
        CHECK_FALSE(v.usable);
        return std::string(v.refusal != nullptr ? v.refusal : "(none)");
    };
    auto starts = [](const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; };

    VmxCapabilityMsrs none{};
    VmxVerdict v = verdict_of(none);
    CHECK_FALSE(v.usable);
    CHECK(starts_with(v.refusal, "VT-x not available: CPUID.1:ECX.VMX[bit 5] is 0"));
    CHECK_FALSE(decode_vmx_capabilities(VmxCapabilityMsrs{false, 5, sky.basic}).feature_control_locked);

    CHECK(starts(refusal_with([](auto& m) { m.feature_control = 0x1; }), "VT-x not available: the firmware"));
    CHECK(starts(refusal_with([](auto& m) { m.basic |= 1ull << 48; }),
                 "VT-x not usable: IA32_VMX_BASIC requires 32-bit VMCS addresses"));
    CHECK(starts(refusal_with([](auto& m) { m.basic &= ~(0xfull << 50); }),
                 "VT-x not usable: IA32_VMX_BASIC requires 32-bit VMCS addresses or a non-write-back VMCS"));
    CHECK(starts(refusal_with([](auto& m) { m.procbased &= ~(1ull << 60); }), "VT-x not usable: I/O or MSR bitmaps"));
    CHECK(starts(refusal_with([](auto& m) { m.procbased &= ~(1ull << 57); }), "VT-x not usable: I/O or MSR bitmaps"));
    CHECK(starts(refusal_with([](auto& m) { m.procbased &= ~(1ull << 63); }),
                 "EPT not supported: the processor has no secondary processor-based VM-execution controls"));
    CHECK(starts(refusal_with([](auto& m) { m.ept_vpid_cap &= ~(1ull << 6); }),
                 "EPT not supported: IA32_VMX_EPT_VPID_CAP lacks the 4-level walk"));
    CHECK(starts(refusal_with([](auto& m) { m.ept_vpid_cap &= ~(1ull << 14); }),
                 "EPT not supported: IA32_VMX_EPT_VPID_CAP lacks the 4-level walk (bit 6) or write-back"));
    CHECK(starts(refusal_with([](auto& m) { m.ept_vpid_cap &= ~(1ull << 20); }), "EPT not supported: no INVEPT"));
    CHECK(starts(refusal_with([](auto& m) { m.ept_vpid_cap &= ~(3ull << 25); }), "EPT not supported: no INVEPT"));
    CHECK(starts(refusal_with([](auto& m) { m.procbased2 &= ~(1ull << 39); }), "unrestricted guest not supported"));
    CHECK(starts(refusal_with([](auto& m) { m.pinbased &= ~(1ull << 38); }), "VMX-preemption timer not supported"));

    // Firmware that left IA32_FEATURE_CONTROL unlocked is no reason to refuse (tandem locks it).
    VmxCapabilityMsrs unlocked = sky;
    unlocked.feature_control = 0;
    CHECK(verdict_of(unlocked).usable);
    // Either INVEPT type is enough.
    VmxCapabilityMsrs single_only = sky;
    single_only.ept_vpid_cap &= ~(1ull << 26);
    CHECK(verdict_of(single_only).usable);
}

TEST_CASE("decoding ignores what the controls do not allow") {
    VmxCapabilityMsrs m = msrs_of("corei7_skylake_x");
    m.procbased &= ~(1ull << 63);  // no secondary controls: procbased2 and EPT caps mean nothing
    VmxCapabilities c = decode_vmx_capabilities(m);
    CHECK_FALSE(c.secondary_controls);
    CHECK_FALSE(c.ept);
    CHECK_FALSE(c.pml);
    CHECK_FALSE(c.vpid);
    CHECK_FALSE(c.ept_accessed_dirty);

    m = msrs_of("corei7_skylake_x");
    m.procbased2 &= ~(1ull << 33);  // PML allowed, EPT not: no PML
    c = decode_vmx_capabilities(m);
    CHECK_FALSE(c.ept);
    CHECK_FALSE(c.pml);
    CHECK_FALSE(c.ept_walk_4);
    CHECK(c.vpid);
    CHECK(c.invvpid);

    m = msrs_of("corei7_skylake_x");
    m.ept_vpid_cap &= ~(1ull << 21);  // PML without EPT A/D bits is useless: write protection
    c = decode_vmx_capabilities(m);
    CHECK(c.pml);
    CHECK(judge_vmx(c).dirty == DirtyTracking::write_protect);

    m.misc = (m.misc & ~0x1full) | 5;
    CHECK(decode_vmx_capabilities(m).preemption_timer_shift == 5);
}

TEST_CASE("report_vmx: raw MSR line, feature summary, verdict") {
    for (const auto& entry : models()) {
        CAPTURE(entry.first);
        std::string text = report(entry.second.msrs);
        // Reproduces the fixture line (the report may carry further MSRs after it).
        std::string prefix = "vmx: msrs " + entry.second.line;
        REQUIRE(text.size() > prefix.size());
        CHECK(text.compare(0, prefix.size(), prefix) == 0);
        CHECK((text[prefix.size()] == '\n' || text[prefix.size()] == ' '));
    }
    std::string sky = report(msrs_of("corei7_skylake_x"));
    CHECK(sky.find("vmx: VT-x yes, EPT yes, EPT A/D yes, PML yes, VPID yes, unrestricted guest yes, "
                   "preemption timer yes\n") != std::string::npos);
    CHECK(sky.find("vmx: VMCS revision 0x2b size 4096, true controls yes, EPT 4-level yes write-back yes 2M pages "
                   "yes 1G pages yes, INVEPT yes INVVPID yes, preemption timer rate TSC/1\n") != std::string::npos);
    CHECK(sky.find("vmx: usable; dirty tracking available: PML (page-modification logging)\n") != std::string::npos);

    std::string broadwell = report(msrs_of("broadwell_ult"));
    CHECK(broadwell.find("EPT A/D yes, PML no") != std::string::npos);
    CHECK(broadwell.find("dirty tracking available: EPT dirty bits (no PML)") != std::string::npos);
    std::string ivy = report(msrs_of("corei7_ivy_bridge_3770k"));
    CHECK(ivy.find("EPT A/D no, PML no") != std::string::npos);
    CHECK(ivy.find("dirty tracking available: EPT write-protection (no EPT A/D bits)") != std::string::npos);

    std::string penryn = report(msrs_of("core2_penryn_t9600"));
    CHECK(penryn.find("EPT no") != std::string::npos);
    CHECK(penryn.find("preemption timer no") != std::string::npos);
    CHECK(penryn.find("usable") == std::string::npos);

    VmxCapabilityMsrs m = msrs_of("corei7_skylake_x");
    m.misc |= 5;
    CHECK(report(m).find("preemption timer rate TSC/32\n") != std::string::npos);

    CHECK(report(VmxCapabilityMsrs{}) ==
          "vmx: VT-x no, EPT no, EPT A/D no, PML no, VPID no, unrestricted guest no, preemption timer no\n");
}

}  // TEST_SUITE
