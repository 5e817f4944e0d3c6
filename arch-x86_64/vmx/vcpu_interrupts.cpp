// The periodic tick for every guest, and interrupts, HLT and timer deadlines for a guest with
// interrupt controllers (GuestInterruptSource): external-interrupt injection on VM entry (Intel
// SDM Vol. 3C §27.6), interrupt-window exiting when the guest cannot take one yet (§26.6.2,
// §28.2), HLT through the guest activity state (§25.4.2: entering in the HLT state lets the
// preemption timer and injected events wake it), and the VMX-preemption timer (§26.5.1) set
// before every entry for what remains, by the host's TSC, until the next periodic tick or the
// next guest timer deadline. The timer counts only while the guest runs, so it is set again
// from the host's clock at every entry, and any exit that finds the tick due runs it: time that
// exits take cannot stretch the ticks (issue 14, defect 2). Only a tick's own work can: after
// every tick the guest runs at least half a period before the next. Test guests have no
// interrupt source: for them HLT ends the guest and the timer only ticks.
#include "arch-x86_64/vmx/exit_qualification.hpp"
#include "arch-x86_64/vmx/vcpu.hpp"
#include "arch-x86_64/vmx/vmx_controls.hpp"

namespace tandem::x86 {
namespace {

constexpr std::uint64_t kRflagsIf = 1ull << 9;
constexpr std::uint64_t kActivityActive = 0, kActivityHlt = 1;
constexpr std::uint64_t kBlockingStiOrMovSs = 3;
constexpr std::uint32_t kEventValid = 1u << 31;

}  // namespace

void Vcpu::on_hlt() {
    if (interrupts_ == nullptr) {
        // No device can raise an interrupt for a test guest, so a halted one would never run again.
        return stop_with_report("the guest halted (HLT) and no device can wake it");
    }
    ++stats_.halts;
    advance_rip();
    if (!(vmcs_.read(vmcs::guest_rflags) & kRflagsIf)) {
        // Nothing but an NMI or INIT (neither of which tandem sends) ends HLT with interrupts off:
        // the guest has stopped itself for good (Linux does this after a failed power-off).
        return stop("the guest halted with interrupts disabled and can never run again");
    }
    // An interrupt already waiting is injected on this entry; otherwise the guest waits in the
    // HLT state until prepare_entry() injects one.
    if (!interrupts_->pending_vector()) vmcs_.write(vmcs::guest_activity_state, kActivityHlt);
}

void Vcpu::tick_if_due(bool timer_expired) {
    // The timer may have been set for a guest deadline before the tick: that expiry is not a
    // tick (prepare_entry() handles the deadline). Set for the tick, its expiry is the tick even
    // if it came up to one timer unit early (units() rounds down).
    std::uint64_t now = platform_.read_tsc();
    // The guest's slice after the last tick comes first (prepare_entry()).
    if (now < guest_slice_until_) return;
    bool due = next_tick_tsc_ == 0 ? timer_expired
                                   : now >= next_tick_tsc_ || (timer_expired && timer_for_tick_);
    if (!due) return;
    next_tick_tsc_ = now + tick_period_tsc();
    // The next period is armed before the work, which may capture the vCPU (and with it the timer).
    vmcs_.write(vmcs::preemption_timer_value, config_.timer_rate.units(tick_period_tsc()));
    timer_for_tick_ = true;
    ticked_ = true;
    slice_pending_ = true;
    if (hooks_ != nullptr) hooks_->on_timer();
}

void Vcpu::on_interrupt_window() {
    // The guest can take an interrupt now: prepare_entry() injects it. Turn the exiting off so a
    // stale request cannot make the guest exit after every instruction.
    vmcs_.write(vmcs::primary_controls, vmcs_.read(vmcs::primary_controls) & ~proc::interrupt_window_exiting);
}

void Vcpu::inject_pending_interrupt() {
    std::uint64_t controls = vmcs_.read(vmcs::primary_controls);
    auto set_window = [&](bool on) {
        std::uint64_t wanted = on ? controls | proc::interrupt_window_exiting : controls & ~proc::interrupt_window_exiting;
        if (wanted != controls) vmcs_.write(vmcs::primary_controls, wanted);
    };
    auto vector = interrupts_->pending_vector();
    if (!vector) return set_window(false);
    // Another event (an exception, or one whose delivery an exit interrupted) goes in first.
    bool event_queued = (vmcs_.read(vmcs::entry_interruption_info) & kEventValid) != 0;
    bool can_take = (vmcs_.read(vmcs::guest_rflags) & kRflagsIf) &&
                    !(vmcs_.read(vmcs::guest_interruptibility) & kBlockingStiOrMovSs);
    if (event_queued || !can_take) return set_window(true);
    interrupts_->acknowledge();
    vmcs_.write(vmcs::entry_interruption_info, InterruptionInfo::external(*vector).raw);
    ++stats_.injected_interrupts;
    // Delivery ends HLT; the return address is the instruction after it.
    if (vmcs_.read(vmcs::guest_activity_state) == kActivityHlt) {
        vmcs_.write(vmcs::guest_activity_state, kActivityActive);
    }
    set_window(false);
}

void Vcpu::prepare_entry() {
    if (!running()) return;
    std::uint64_t host_now = platform_.read_tsc();
    if (next_tick_tsc_ == 0) next_tick_tsc_ = host_now + tick_period_tsc();
    if (slice_pending_) {
        // A tick's work (link, copy to a joining backup, epochs) can outlast the period. Without
        // a slice of its own the guest would then be entered with the timer at 0 and run no
        // instruction before the next tick, over and over (a Linux guest stopped for 20 s during
        // a join, issue 14): after every tick it runs at least half a period first.
        slice_pending_ = false;
        guest_slice_until_ = host_now + tick_period_tsc() / 2;
    }
    std::uint64_t tick_at = next_tick_tsc_ > guest_slice_until_ ? next_tick_tsc_ : guest_slice_until_;
    std::uint64_t wait = tick_at > host_now ? tick_at - host_now : 0;
    timer_for_tick_ = true;
    if (interrupts_ != nullptr) {
        std::uint64_t guest_now = host_now + vmcs_.read(vmcs::tsc_offset);
        interrupts_->advance(guest_now);
        std::uint64_t injected_before = stats_.injected_interrupts;
        inject_pending_interrupt();
        watch_interrupt_wait(host_now, guest_now, stats_.injected_interrupts != injected_before);
        if (auto deadline = interrupts_->next_deadline()) {
            std::uint64_t until = *deadline > guest_now ? *deadline - guest_now : 0;
            if (until < wait) {
                wait = until;
                timer_for_tick_ = false;
            }
        }
    }
    vmcs_.write(vmcs::preemption_timer_value, config_.timer_rate.units(wait));
}

void Vcpu::set_interrupts(GuestInterruptSource* interrupts) {
    interrupts_ = interrupts;
    // The interrupt diagnostic's bounds: an interrupt requested for a second without any
    // injection, or HLT for 10 s (Linux's soft-lockup watchdog alone wakes it every 4 s). 0 (no
    // report) without a calibrated TSC.
    constexpr std::uint64_t kRequestWaitMs = 1000, kHaltWaitMs = 10000;
    std::uint64_t khz = config_.cpuid.tsc_khz;
    wait_watch_.set_bounds(kRequestWaitMs * khz, kHaltWaitMs * khz);
}

void Vcpu::watch_interrupt_wait(std::uint64_t host_now, std::uint64_t guest_now, bool injected) {
    std::uint64_t khz = config_.cpuid.tsc_khz;
    bool halted = vmcs_.read(vmcs::guest_activity_state) == kActivityHlt;
    auto finding = wait_watch_.observe(host_now, interrupts_->has_requests(), injected, halted);
    if (finding == InterruptWaitWatch::Finding::none) return;
    std::uint64_t ms = wait_watch_.waited(finding, host_now) / (khz == 0 ? 1 : khz);
    if (finding == InterruptWaitWatch::Finding::request_waits) {
        print(console_, "vm: watchdog: a guest interrupt has waited {} ms and none was injected: ", ms);
    } else {
        print(console_, "vm: watchdog: the guest has waited in HLT for {} ms and no interrupt woke it: ", ms);
    }
    std::uint64_t entry_event = vmcs_.read(vmcs::entry_interruption_info);
    print(console_, "{} at rip {}, RFLAGS.IF {}, interruptibility {}, queued event {}, interrupt-window exiting {}; ",
          halted ? "HLT" : "active", hex(vmcs_.read(vmcs::guest_rip), 16), (vmcs_.read(vmcs::guest_rflags) & kRflagsIf) ? 1 : 0,
          hex(vmcs_.read(vmcs::guest_interruptibility)), (entry_event & kEventValid) ? hex(entry_event, 8) : hex(0),
          YesNo{(vmcs_.read(vmcs::primary_controls) & proc::interrupt_window_exiting) != 0});
    interrupts_->describe(console_, guest_now);
    println(console_, "");
}

}  // namespace tandem::x86
