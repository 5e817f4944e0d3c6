// One virtual CPU: the guest's registers, its VMCS (through VmcsAccess), its memory and
// devices, and the exit handling that keeps it running. Portable: the instructions it needs
// (RDTSC, CPUID, XSETBV) come through VcpuPlatform, so host tests drive every exit path with a
// fake VMCS and a fake platform.
#pragma once

#include <cstdint>

#include "arch-x86_64/vmx/cpuid_policy.hpp"
#include "arch-x86_64/vmx/exit_reason.hpp"
#include "arch-x86_64/vmx/guest_entry.hpp"
#include "arch-x86_64/vmx/guest_registers.hpp"
#include "arch-x86_64/vmx/preemption_timer.hpp"
#include "arch-x86_64/vmx/vmcs_access.hpp"
#include "hypervisor/console/writer.hpp"
#include "hypervisor/devices/guest_interrupt_source.hpp"
#include "hypervisor/devices/mmio_bus.hpp"
#include "hypervisor/devices/port_io.hpp"
#include "hypervisor/vm/guest_end.hpp"
#include "hypervisor/vm/guest_events.hpp"
#include "hypervisor/vm/guest_memory.hpp"
#include "hypervisor/vm/interrupt_wait_watch.hpp"

namespace tandem::x86 {

class VcpuPlatform : public CpuidSource {
public:
    virtual std::uint64_t read_tsc() const = 0;
    // XSETBV on the guest's behalf (the guest's XCR0 lives in the hardware register while it
    // runs; tandem itself uses no extended state). False when the value is not allowed.
    virtual bool set_xcr0(std::uint64_t value) = 0;

protected:
    ~VcpuPlatform() = default;
};


struct VcpuStats {
    std::uint64_t exits = 0;
    std::uint64_t exits_by_reason[80]{};
    std::uint64_t injected_exceptions = 0;
    std::uint64_t unknown_msr_accesses = 0;
    std::uint64_t mmio_accesses = 0;
    std::uint64_t injected_interrupts = 0;
    std::uint64_t halts = 0;
};

struct VcpuConfig {
    CpuidPolicy cpuid;
    CrPolicy cr;
    std::uint64_t preemption_timer_reload = 0;  // timer units between periodic ticks
    PreemptionTimerRate timer_rate{};           // one unit is 2^shift TSC cycles (IA32_VMX_MISC)
    std::uint64_t supported_xcr0 = 0;           // host CPUID.(0xd,0) EDX:EAX
    // IA32_ARCH_CAPABILITIES as the guest reads it (speculation.hpp); absent: #GP, as CPUID says.
    bool arch_capabilities = false;
    std::uint64_t arch_capabilities_value = 0;
};

class Vcpu {
public:
    Vcpu(VmcsAccess& vmcs, GuestMemory& memory, PortIoBus& io, VcpuPlatform& platform, Writer& console,
         const VcpuConfig& config)
        : vmcs_(vmcs), memory_(&memory), io_(io), platform_(platform), console_(console), guest_console_(&console),
          config_(config) {}

    GuestRegisters& regs() { return regs_; }
    const GuestRegisters& regs() const { return regs_; }
    VmcsAccess& vmcs() { return vmcs_; }
    const VcpuStats& stats() const { return stats_; }
    ExitReason last_exit_reason() const { return reason_; }
    const GuestEnd& end() const { return end_; }
    bool running() const { return end_.kind == GuestEnd::Kind::running; }

    // Handles the VM exit described by the current VMCS, then the periodic tick if it is due by
    // the host's clock, whatever the exit was (so a storm of other exits cannot starve the
    // link). Afterwards running() says whether to enter the guest again; if not, end() says why
    // and the report is on the console.
    void handle_exit();

    // Stops the guest for a reason found outside exit handling (a failed VM entry).
    void stop(const char* reason);
    // A guest stopped by the mode (not one that exited) may run again: a switchover that did not
    // happen resumes it, a machine that handed its guest over may take it over later.
    void clear_stop() {
        if (end_.kind == GuestEnd::Kind::stopped) end_ = GuestEnd{};
    }
    // The mode's hooks into exit handling (GuestEvents: the timer, write faults, a full PML log).
    void set_hooks(GuestEvents* hooks) { hooks_ = hooks; }
    void set_mmio_bus(MmioBus* bus) { mmio_ = bus; }
    // Where the print hypercall's lines go (the console's guest writer, which may drop them);
    // the vCPU's own reports stay on the console given at construction.
    void set_guest_console(Writer& out) { guest_console_ = &out; }
    // The period of the periodic tick (console, link, network, epochs), in milliseconds.
    void set_tick_ms(std::uint64_t ms, std::uint64_t tsc_khz) {
        config_.preemption_timer_reload = config_.timer_rate.units_for_ms(ms, tsc_khz);
        next_tick_tsc_ = 0;
    }
    // A guest with interrupt controllers and timers: APIC MSRs go to it, its vectors are
    // injected, HLT waits for them, and the preemption timer also wakes the guest at its
    // deadlines. Without one (test guests) none of that happens; the tick is the same for both.
    void set_interrupts(GuestInterruptSource* interrupts);
    // Before every VM entry: injects what the guest can take now and sets the preemption timer
    // for what remains, by the host's TSC, until the next tick or timer deadline, whichever
    // comes first.
    void prepare_entry();
    // Whether the last exit ran the periodic tick (tick listeners and hooks run on those only).
    bool ticked() const { return ticked_; }
    const VcpuConfig& config() const { return config_; }
    // How often the interrupt diagnostic has reported (a guest interrupt waited, or HLT lasted).
    std::uint64_t interrupt_wait_reports() const { return wait_watch_.reports(); }
    GuestMemory& memory() { return *memory_; }
    void set_memory(GuestMemory& memory) { memory_ = &memory; }

private:
    friend struct VcpuTestAccess;

    void advance_rip();
    void inject_exception(std::uint8_t vector, bool has_error_code = false, std::uint32_t error_code = 0);
    void stop_with_report(const char* reason);
    void report_exit(const char* headline);

    void dispatch_exit();
    // The periodic work (GuestEvents::on_timer, then the tick listeners) when the host's clock
    // says the tick is due, or the preemption timer expired for it.
    void tick_if_due(bool timer_expired);
    void on_exception_or_nmi();
    void on_cpuid();
    void on_io();
    void on_rdmsr();
    void on_wrmsr();
    void on_vmcall();
    void on_cr_access();
    void on_xsetbv();
    void on_ept_violation();
    // Carries out an access to a device's memory; false if the instruction is not emulated.
    bool emulate_mmio(MmioDevice& device, std::uint64_t offset);
    // Up to 15 bytes of the instruction at CS:RIP (through the guest's paging); how many.
    std::size_t fetch_instruction(std::uint8_t (&bytes)[15]) const;
    void on_hlt();
    void on_interrupt_window();
    void inject_pending_interrupt();
    // The interrupt diagnostic (interrupt_wait_watch.hpp) before an entry, and its report.
    void watch_interrupt_wait(std::uint64_t host_now, std::uint64_t guest_now, bool injected);
    std::uint64_t tick_period_tsc() const {
        return config_.timer_rate.tsc_ticks(config_.preemption_timer_reload);
    }
    bool guest_cpl0() const;
    // CR0/CR4 as the guest sees them: its own bits from the register, tandem's (the masked
    // ones) from the read shadows (SDM Vol. 3C §26.6.6).
    std::uint64_t guest_cr0_view() const;
    std::uint64_t guest_cr4_view() const;

    VmcsAccess& vmcs_;
    GuestMemory* memory_;
    PortIoBus& io_;
    VcpuPlatform& platform_;
    Writer& console_;
    Writer* guest_console_;
    VcpuConfig config_;
    GuestRegisters regs_{};
    VcpuStats stats_{};
    GuestEnd end_{};
    ExitReason reason_{};
    GuestEvents* hooks_ = nullptr;
    MmioBus* mmio_ = nullptr;
    GuestInterruptSource* interrupts_ = nullptr;
    std::uint64_t next_tick_tsc_ = 0;  // host TSC of the next tick (0: not yet set)
    bool timer_for_tick_ = true;       // the preemption timer was set for the tick, not a deadline
    bool slice_pending_ = false;       // a tick ran: the next entry starts the guest's slice
    std::uint64_t guest_slice_until_ = 0;  // host TSC before which no tick runs (the guest's slice)
    bool ticked_ = false;
    InterruptWaitWatch wait_watch_;
};

}  // namespace tandem::x86
