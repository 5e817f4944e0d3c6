// Interrupts for a guest with a GuestInterruptSource (arch-x86_64/vmx/vcpu_interrupts.cpp):
// injection on VM entry only when the guest can take one (RFLAGS.IF, no STI/MOV SS blocking, no
// other event queued; Intel SDM Vol. 3C §27.6.2), interrupt-window exiting otherwise, HLT through
// the activity state, the preemption timer set for the earlier of the tick and the guest's next
// deadline, ticks told apart from deadline wake-ups, and APIC MSRs routed to the source (#GP on
// its errors). Test guests (no source) keep the old behaviour: HLT ends them.
#include <doctest/doctest.h>

#include <cstdio>
#include <optional>
#include <string>

#include "arch-x86_64/vmx/vmx_controls.hpp"
#include "hypervisor/devices/guest_interrupt_source.hpp"
#include "hypervisor/devices/power_control.hpp"
#include "vmx_fake_vcpu.hpp"

using namespace tandem;
using namespace tandem::x86;
using test::VcpuRig;

namespace {

constexpr std::uint64_t kIf = 1ull << 9;
constexpr std::uint32_t kHlt = 12, kPreemptionTimer = 52, kInterruptWindow = 7, kRdmsr = 31, kWrmsr = 32;

class FakeSource final : public GuestInterruptSource {
public:
    bool handles_msr(std::uint32_t msr) const override { return msr == 0x6e0 || msr == 0x80b; }
    Result<std::uint64_t> read_msr(std::uint32_t msr) override {
        if (msr == 0x80b) return Error::of("write-only");
        return deadline.value_or(0);
    }
    Status write_msr(std::uint32_t msr, std::uint64_t value) override {
        if (msr == 0x80b && value != 0) return Error::of("non-zero EOI");
        if (msr == 0x6e0) deadline = value;
        return success();
    }
    void advance(std::uint64_t guest_tsc) override {
        advanced_to = guest_tsc;
        if (deadline && guest_tsc >= *deadline) {
            vector = timer_vector;
            deadline.reset();
        }
    }
    std::optional<std::uint8_t> pending_vector() const override { return vector; }
    std::optional<std::uint8_t> acknowledge() override {
        auto v = vector;
        vector.reset();
        ++acknowledged;
        return v;
    }
    std::optional<std::uint64_t> next_deadline() const override { return deadline; }
    bool has_requests() const override { return vector.has_value() || blocked_request; }
    void describe(Writer& out, std::uint64_t) const override { out.write("fake source state"); }

    std::optional<std::uint8_t> vector;
    std::optional<std::uint64_t> deadline;
    std::uint8_t timer_vector = 0xec;
    std::uint64_t advanced_to = 0;
    int acknowledged = 0;
    bool blocked_request = false;  // a requested vector the priority rules keep from pending_vector()
};

struct Rig : VcpuRig {
    FakeSource source;
    Rig() : VcpuRig(tandem::guest_boot::EntryMode::long64) {
        vcpu.set_interrupts(&source);
        vmcs.set(vmcs::guest_rflags, 0x2 | kIf);
    }
    std::uint64_t controls() const { return get(vmcs::primary_controls); }
    bool window() const { return (controls() & proc::interrupt_window_exiting) != 0; }
};

}  // namespace

TEST_CASE("interrupts: injected when the guest can take one, otherwise an interrupt window") {
    Rig rig;
    rig.vcpu.prepare_entry();
    CHECK((rig.injected() & (1u << 31)) == 0);  // nothing pending: nothing injected
    CHECK_FALSE(rig.window());

    rig.source.vector = 0x41;
    rig.vmcs.set(vmcs::guest_rflags, 0x2);  // IF clear
    rig.vcpu.prepare_entry();
    CHECK((rig.injected() & (1u << 31)) == 0);
    CHECK(rig.window());
    CHECK(rig.source.acknowledged == 0);

    rig.vmcs.set(vmcs::guest_rflags, 0x2 | kIf);
    rig.vmcs.set(vmcs::guest_interruptibility, 1);  // blocking by STI
    rig.vcpu.prepare_entry();
    CHECK((rig.injected() & (1u << 31)) == 0);
    CHECK(rig.window());

    rig.vmcs.set(vmcs::guest_interruptibility, 0);
    rig.exit(kInterruptWindow);
    CHECK_FALSE(rig.window());  // the exit turns the window off ...
    rig.vcpu.prepare_entry();   // ... and the entry injects
    CHECK(rig.injected() == (0x80000000u | 0x41));
    CHECK(rig.source.acknowledged == 1);
    CHECK_FALSE(rig.window());
    CHECK(rig.vcpu.stats().injected_interrupts == 1);

    // An event already queued (an exception, or one an exit interrupted) goes first.
    rig.source.vector = 0x42;
    rig.vmcs.set(vmcs::entry_interruption_info, 0x80000b0du);  // #GP
    rig.vcpu.prepare_entry();
    CHECK(rig.injected() == 0x80000b0du);
    CHECK(rig.window());
    CHECK(rig.source.acknowledged == 1);
}

TEST_CASE("HLT waits in the HLT activity state; an injected interrupt wakes the guest") {
    Rig rig;
    std::uint64_t rip = rig.rip();
    rig.exit(kHlt, 0, 1);
    CHECK(rig.vcpu.running());
    CHECK(rig.rip() == rip + 1);
    CHECK(rig.get(vmcs::guest_activity_state) == 1);
    rig.vcpu.prepare_entry();
    CHECK(rig.get(vmcs::guest_activity_state) == 1);  // still nothing to deliver

    // The deadline passes while it waits: the timer's vector is injected and HLT ends.
    rig.source.deadline = rig.platform.tsc + 100;
    rig.platform.tsc += 150;
    rig.vcpu.prepare_entry();
    CHECK(rig.injected() == (0x80000000u | 0xec));
    CHECK(rig.get(vmcs::guest_activity_state) == 0);

    // HLT with an interrupt already pending does not halt at all.
    rig.source.vector = 0x50;
    rig.exit(kHlt, 0, 1);
    CHECK(rig.get(vmcs::guest_activity_state) == 0);

    // HLT with interrupts disabled can never end: the guest is stopped with the reason.
    rig.vmcs.set(vmcs::guest_rflags, 0x2);
    rig.exit(kHlt, 0, 1);
    CHECK_FALSE(rig.vcpu.running());
    CHECK(std::string(rig.vcpu.end().reason) == "the guest halted with interrupts disabled and can never run again");
}

TEST_CASE("preemption timer: the earlier of the next tick and the guest's deadline; only ticks tick") {
    Rig rig;
    rig.vcpu.prepare_entry();
    CHECK(rig.get(vmcs::preemption_timer_value) == VcpuRig::kTimerReload);  // shift 0: TSC ticks
    CHECK(rig.source.advanced_to == rig.platform.tsc + rig.get(vmcs::tsc_offset));

    rig.source.deadline = rig.platform.tsc + rig.get(vmcs::tsc_offset) + 1000;
    rig.vcpu.prepare_entry();
    CHECK(rig.get(vmcs::preemption_timer_value) == 1000);

    // The timer expires for the deadline: not a tick.
    rig.platform.tsc += 1000;
    rig.exit(kPreemptionTimer);
    CHECK_FALSE(rig.vcpu.ticked());
    rig.vcpu.prepare_entry();
    CHECK(rig.injected() == (0x80000000u | 0xec));
    CHECK(rig.get(vmcs::preemption_timer_value) == VcpuRig::kTimerReload - 1000);

    // At the tick it is one, and the next tick is a period later.
    rig.platform.tsc += VcpuRig::kTimerReload - 1000;
    rig.exit(kPreemptionTimer);
    CHECK(rig.vcpu.ticked());
    rig.vcpu.prepare_entry();
    CHECK(rig.get(vmcs::preemption_timer_value) == VcpuRig::kTimerReload);
    // Any other exit is no tick.
    rig.exit(kHlt, 0, 1);
    CHECK_FALSE(rig.vcpu.ticked());
}

TEST_CASE("APIC MSRs go to the interrupt source; its errors are #GP; other MSRs as before") {
    Rig rig;
    rig.vcpu.regs()[Gpr::rcx] = 0x6e0;
    rig.vcpu.regs()[Gpr::rax] = 0x5678;
    rig.vcpu.regs()[Gpr::rdx] = 0x1234;
    rig.exit(kWrmsr, 0, 2);
    CHECK(rig.source.deadline == 0x1234'0000'5678ull);
    rig.vcpu.regs()[Gpr::rax] = rig.vcpu.regs()[Gpr::rdx] = 0;
    rig.exit(kRdmsr, 0, 2);
    CHECK(rig.vcpu.regs()[Gpr::rax] == 0x5678);
    CHECK(rig.vcpu.regs()[Gpr::rdx] == 0x1234);
    CHECK((rig.injected() & (1u << 31)) == 0);

    rig.vcpu.regs()[Gpr::rcx] = 0x80b;  // EOI: write-only
    rig.exit(kRdmsr, 0, 2);
    CHECK(rig.injected() == 0x80000b0du);
    rig.vmcs.set(vmcs::entry_interruption_info, 0);
    rig.vcpu.regs()[Gpr::rax] = 1;
    rig.exit(kWrmsr, 0, 2);
    CHECK(rig.injected() == 0x80000b0du);
}

TEST_CASE("a test guest without an interrupt source: HLT still ends it, the timer just ticks") {
    VcpuRig rig;
    rig.vcpu.prepare_entry();  // does nothing
    rig.exit(kPreemptionTimer);
    CHECK(rig.vcpu.ticked());
    CHECK(rig.get(vmcs::preemption_timer_value) == VcpuRig::kTimerReload);
    rig.exit(kHlt, 0, 1);
    CHECK_FALSE(rig.vcpu.running());
}

TEST_CASE("power control: S5 through the sleep control port, reboot through the reset port or the 8042") {
    PowerPorts ports{};
    {
        PowerControl p(ports);
        p.write(ports.sleep_control, 1, 5u << 2);  // the sleep type without SLP_EN: nothing yet
        CHECK(p.request() == PowerControl::Request::none);
        p.write(ports.sleep_control, 1, (5u << 2) | PowerControl::kSleepEnable);
        CHECK(p.request() == PowerControl::Request::power_off);
        CHECK(std::string(p.describe()) == "the guest powered itself off (ACPI S5)");
        CHECK(p.read(ports.sleep_status, 1) == 0);
    }
    {
        PowerControl p(ports);
        p.write(ports.sleep_control, 1, (3u << 2) | PowerControl::kSleepEnable);  // S3: not offered
        CHECK(p.request() == PowerControl::Request::power_off);
        CHECK(std::string(p.describe()).find("other than S5") != std::string::npos);
    }
    {
        PowerControl p(ports);
        p.write(ports.reset, 1, 0x02);  // not the reset value
        CHECK(p.request() == PowerControl::Request::none);
        p.write(ports.reset, 1, ports.reset_value);
        CHECK(p.request() == PowerControl::Request::reset);
    }
    {
        PowerControl p(ports);
        p.write(PowerControl::kKeyboardCommand, 1, 0xd1);
        CHECK(p.request() == PowerControl::Request::none);
        p.write(PowerControl::kKeyboardCommand, 1, PowerControl::kKeyboardPulseReset);
        CHECK(p.request() == PowerControl::Request::reset);
    }
}

std::string hex_rip(const Rig& rig) {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(rig.rip()));
    return buf;
}

TEST_CASE("interrupt diagnostic: a request that waits a second without an injection is reported once, with the state") {
    Rig rig;
    const std::uint64_t second = VcpuRig::kTscKhz * 1000ull;
    rig.source.vector = 0x41;
    rig.vmcs.set(vmcs::guest_rflags, 0x2);  // IF clear: the vector cannot go in
    rig.vcpu.prepare_entry();
    rig.platform.tsc += second - 1;
    rig.vcpu.prepare_entry();
    CHECK(rig.vcpu.interrupt_wait_reports() == 0);
    CHECK(rig.text().find("vm: watchdog: a guest interrupt") == std::string::npos);
    rig.platform.tsc += 1;
    rig.vcpu.prepare_entry();
    CHECK(rig.vcpu.interrupt_wait_reports() == 1);
    CHECK(rig.text().find("vm: watchdog: a guest interrupt has waited 1000 ms and none was injected: active at rip "
                          "0x" + hex_rip(rig) + ", RFLAGS.IF 0, interruptibility 0x0, queued event 0x0, interrupt-window exiting yes; "
                          "fake source state\n") != std::string::npos);
    rig.platform.tsc += 5 * second;
    rig.vcpu.prepare_entry();
    CHECK(rig.vcpu.interrupt_wait_reports() == 1);  // once per episode

    // The injection ends the episode; a new one is reported again.
    rig.vmcs.set(vmcs::guest_rflags, 0x2 | kIf);
    rig.vcpu.prepare_entry();
    CHECK(rig.injected() == (0x80000000u | 0x41));
    rig.source.blocked_request = true;  // requested, but a vector in service keeps it back
    rig.vcpu.prepare_entry();
    rig.platform.tsc += second;
    rig.vcpu.prepare_entry();
    CHECK(rig.vcpu.interrupt_wait_reports() == 2);
}

TEST_CASE("interrupt diagnostic: HLT for 10 s with nothing injected is reported; a timer's wake-up is not") {
    Rig rig;
    const std::uint64_t second = VcpuRig::kTscKhz * 1000ull;
    for (int i = 0; i < 30; ++i) {  // a guest woken by its timer every 4 s
        rig.exit(kHlt, 0, 1);
        rig.source.deadline = rig.platform.tsc + rig.get(vmcs::tsc_offset) + 4 * second;
        rig.vcpu.prepare_entry();
        rig.platform.tsc += 4 * second;
        rig.vcpu.prepare_entry();
        REQUIRE(rig.get(vmcs::guest_activity_state) == 0);
    }
    CHECK(rig.vcpu.interrupt_wait_reports() == 0);
    rig.exit(kHlt, 0, 1);  // no timer armed now
    rig.vcpu.prepare_entry();
    rig.platform.tsc += 10 * second;
    rig.vcpu.prepare_entry();
    CHECK(rig.vcpu.interrupt_wait_reports() == 1);
    CHECK(rig.text().find("vm: watchdog: the guest has waited in HLT for 10000 ms and no interrupt woke it: HLT at rip "
                          "0x" + hex_rip(rig) + ", RFLAGS.IF 1") != std::string::npos);
}
