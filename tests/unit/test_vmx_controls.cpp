// VM-execution, exit and entry controls computed from the capability MSRs
// (arch-x86_64/vmx/vmx_controls.hpp), on every Bochs CPU model of the fixture
// vmx_msrs_bochs.txt (SDM Vol. 3D Appendix A.3-A.5: bits 31:0 of a control MSR force controls to
// 1, bits 63:32 allow them to be 1).
#include <doctest/doctest.h>

#include <string>

#include "arch-x86_64/vmx/vmx_controls.hpp"
#include "helpers.hpp"
#include "vmx_fake_msrs.hpp"

using namespace tandem;
using namespace tandem::x86;

namespace {

constexpr std::uint32_t kRequiredPin = pin::external_interrupt_exiting | pin::nmi_exiting | pin::preemption_timer;
constexpr std::uint32_t kRequiredPrimary = proc::hlt_exiting | proc::mwait_exiting | proc::rdpmc_exiting |
                                           proc::monitor_exiting | proc::use_io_bitmaps | proc::use_msr_bitmaps |
                                           proc::tsc_offsetting | proc::activate_secondary;
constexpr std::uint32_t kRequiredSecondary = proc2::enable_ept | proc2::unrestricted_guest;
constexpr std::uint32_t kOptionalSecondary = proc2::enable_vpid | proc2::enable_rdtscp | proc2::enable_invpcid |
                                             proc2::enable_xsaves | proc2::wbinvd_exiting;
constexpr std::uint32_t kRequiredExit = exit_ctl::host_address_space_size | exit_ctl::acknowledge_interrupt |
                                        exit_ctl::save_debug_controls | exit_ctl::save_pat | exit_ctl::load_pat |
                                        exit_ctl::save_efer | exit_ctl::load_efer;
constexpr std::uint32_t kRequiredEntry = entry_ctl::load_debug_controls | entry_ctl::load_pat | entry_ctl::load_efer;

std::uint32_t forced(std::uint64_t msr) { return static_cast<std::uint32_t>(msr); }
std::uint32_t allowed(std::uint64_t msr) { return static_cast<std::uint32_t>(msr >> 32); }

// One control word against its MSR: the required bits, every forced bit, nothing forbidden, and
// each optional bit exactly when the MSR allows it.
void check_word(const char* what, std::uint32_t word, std::uint64_t msr, std::uint32_t required,
                std::uint32_t optional) {
    CAPTURE(what);
    CAPTURE(word);
    CHECK((word & required) == required);
    CHECK((word & forced(msr)) == forced(msr));
    CHECK((word & ~allowed(msr)) == 0);
    CHECK((word & optional) == (optional & allowed(msr)));
    // Nothing else: every bit is forced, required or a granted option.
    CHECK((word & ~(forced(msr) | required | optional)) == 0);
}

void check_error(const Result<VmxControls>& r, const std::string& message, std::uint64_t bit) {
    REQUIRE_FALSE(r.ok());
    CHECK(test::message(r.error()) == message);
    CHECK(r.error().value == bit);
}

}  // namespace

TEST_SUITE("vmx_controls") {

TEST_CASE("every model with EPT and unrestricted guest: required, forced and allowed bits") {
    for (const char* model :
         {"corei7_skylake_x", "tigerlake", "broadwell_ult", "corei7_haswell_4770", "corei7_ivy_bridge_3770k"}) {
        CAPTURE(model);
        VmxCapabilityMsrs m = test::bochs_msrs(model);
        auto c = compute_vmx_controls(m, ControlWishes{});
        REQUIRE(c.ok());
        check_word("pin", c->pin, m.pinbased, kRequiredPin, pin::virtual_nmis);
        check_word("primary", c->primary, m.procbased, kRequiredPrimary, 0);
        check_word("secondary", c->secondary, m.procbased2, kRequiredSecondary, kOptionalSecondary);
        check_word("exit", c->exit, m.exit, kRequiredExit, exit_ctl::save_preemption_timer);
        // The IA-32e mode guest bit belongs to the entry mode (guest_entry.cpp), never to these.
        CHECK((c->entry & entry_ctl::ia32e_mode_guest) == 0);
        check_word("entry", c->entry | (forced(m.entry) & entry_ctl::ia32e_mode_guest), m.entry, kRequiredEntry, 0);
        CHECK((c->secondary & proc2::enable_pml) == 0);  // not wished for
        // Exits on CR3 accesses are not wanted: the true controls let them be 0.
        CHECK((c->primary & (proc::cr3_load_exiting | proc::cr3_store_exiting)) == 0);
    }
}

TEST_CASE("skylake_x: the exact words tandem printed under Bochs") {
    auto c = compute_vmx_controls(test::bochs_msrs("corei7_skylake_x"), ControlWishes{});
    REQUIRE(c.ok());
    // "vm: EPT over ... controls pin 0x7f primary 0xb6006dfa secondary 0x1010ea exit 0x7fefff
    // entry 0xd1ff" from the e2e serial log of a 32-bit guest.
    CHECK(c->pin == 0x7f);
    CHECK(c->primary == 0xb6006dfa);
    CHECK(c->secondary == 0x1010ea);
    CHECK(c->exit == 0x7fefff);
    CHECK(c->entry == 0xd1ff);

    auto ivy = compute_vmx_controls(test::bochs_msrs("corei7_ivy_bridge_3770k"), ControlWishes{});
    REQUIRE(ivy.ok());
    CHECK((ivy->secondary & proc2::enable_xsaves) == 0);  // bit 52 of procbased2 is 0 there
    CHECK((ivy->secondary & proc2::enable_vpid) != 0);
}

TEST_CASE("PML is used only when wished for, and refused by name where the CPU lacks it") {
    for (const char* model : {"corei7_skylake_x", "tigerlake"}) {
        CAPTURE(model);
        auto c = compute_vmx_controls(test::bochs_msrs(model), ControlWishes{true});
        REQUIRE(c.ok());
        CHECK((c->secondary & proc2::enable_pml) != 0);
    }
    for (const char* model : {"broadwell_ult", "corei7_haswell_4770", "corei7_ivy_bridge_3770k"}) {
        CAPTURE(model);
        check_error(compute_vmx_controls(test::bochs_msrs(model), ControlWishes{true}),
                    "secondary processor-based controls: required control cannot be set; bit", 17);
    }
}

TEST_CASE("models lacking a required control get an error naming the control word and bit") {
    // core2_penryn_t9600 has neither the preemption timer nor EPT: the first word refused names it.
    VmxCapabilityMsrs penryn = test::bochs_msrs("core2_penryn_t9600");
    check_error(compute_vmx_controls(penryn, {}), "pin-based controls: required control cannot be set; bit", 6);
    penryn.pinbased |= 1ull << (32 + 6);
    check_error(compute_vmx_controls(penryn, {}),
                "secondary processor-based controls: required control cannot be set; bit", 1);

    const VmxCapabilityMsrs sky = test::bochs_msrs("corei7_skylake_x");
    auto without = [&](std::uint64_t VmxCapabilityMsrs::*msr, unsigned control_bit) {
        VmxCapabilityMsrs m = sky;
        m.*msr &= ~(1ull << (32 + control_bit));
        return compute_vmx_controls(m, {});
    };
    check_error(without(&VmxCapabilityMsrs::procbased2, 1),
                "secondary processor-based controls: required control cannot be set; bit", 1);
    check_error(without(&VmxCapabilityMsrs::procbased2, 7),
                "secondary processor-based controls: required control cannot be set; bit", 7);
    check_error(without(&VmxCapabilityMsrs::procbased, 31),
                "primary processor-based controls: required control cannot be set; bit", 31);
    check_error(without(&VmxCapabilityMsrs::procbased, 7),
                "primary processor-based controls: required control cannot be set; bit", 7);
    check_error(without(&VmxCapabilityMsrs::pinbased, 0), "pin-based controls: required control cannot be set; bit", 0);
    check_error(without(&VmxCapabilityMsrs::exit, 21), "VM-exit controls: required control cannot be set; bit", 21);
    check_error(without(&VmxCapabilityMsrs::entry, 14), "VM-entry controls: required control cannot be set; bit", 14);

    // Optional controls the CPU does not offer are simply left out.
    auto no_vpid = without(&VmxCapabilityMsrs::procbased2, 5);
    REQUIRE(no_vpid.ok());
    CHECK((no_vpid->secondary & proc2::enable_vpid) == 0);
    auto no_virtual_nmis = without(&VmxCapabilityMsrs::pinbased, 5);
    REQUIRE(no_virtual_nmis.ok());
    CHECK(no_virtual_nmis->pin == 0x5f);
}

TEST_CASE("adjust_controls edge cases") {
    // Forced bits come in even when nobody asked for them.
    auto forced_only = adjust_controls(0x0000'00ff'0000'0016ull, 0, 0);
    REQUIRE(forced_only.ok());
    CHECK(*forced_only == 0x16);
    // Optional bits only where allowed; required ones always.
    auto mixed = adjust_controls(0x0000'f0f0'0000'0000ull, 0x0000'1000, 0xffff'ffff);
    REQUIRE(mixed.ok());
    CHECK(*mixed == 0xf0f0);
    // Nothing allowed, nothing wanted: zero.
    auto nothing = adjust_controls(0, 0, 0xffff'ffff);
    REQUIRE(nothing.ok());
    CHECK(*nothing == 0);
    // Everything allowed.
    auto all = adjust_controls(0xffff'ffff'0000'0000ull, 0x8000'0001, 0);
    REQUIRE(all.ok());
    CHECK(*all == 0x8000'0001);

    // The error names the lowest required bit that cannot be 1 (bit 0 and bit 31 included).
    for (unsigned bit : {0u, 1u, 8u, 17u, 30u, 31u}) {
        CAPTURE(bit);
        std::uint32_t required = (1u << bit) | 0x8000'0000u;
        auto r = adjust_controls(0x0000'0000'ffff'ffffull, required, 0);
        REQUIRE_FALSE(r.ok());
        CHECK(test::message(r.error()) == "required VMX control cannot be set; bit");
        CHECK(r.error().value == bit);
    }
    // A forced bit does not make a required but disallowed one acceptable.
    auto r = adjust_controls(0x0000'0001'0000'0002ull, 0x2, 0);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().value == 1);
}

}  // TEST_SUITE
