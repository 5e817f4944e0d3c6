// The local APIC model's life: construction and the power-up register values, the one-time
// reports, and the timer's expiries into the IRR. The rest of the model is split by concept:
// interrupt acceptance, priority and IPIs (local_apic_interrupts.cpp), the x2APIC MSRs and the
// register file behind both interfaces (local_apic_msrs.cpp), the xAPIC page
// (local_apic_xapic_page.cpp), and the state save/restore (local_apic_state.cpp).
#include "hypervisor/devices/local_apic_model.hpp"

namespace tandem {

LocalApicModel::LocalApicModel(GuestClock& clock, Writer& log, const LocalApicConfig& config)
    : clock_(clock), log_(log), config_(config), timer_(config.tsc_per_apic_tick) {
    if (config_.physical_address_bits < 36) config_.physical_address_bits = 36;
    if (config_.physical_address_bits > 52) config_.physical_address_bits = 52;
    config_.tsc_per_apic_tick = timer_.tsc_per_tick();
    apic_base_ = kDefaultBase | kBaseBsp | kBaseEnable | (config_.x2apic_at_reset ? kBaseExtd : 0);
    reset_registers();
}

void LocalApicModel::reset_registers() {
    // Power-up values (SDM §11.12.5.1): LVTs masked, SVR 0xff (software-disabled), the rest zero.
    tpr_ = 0;
    svr_ = 0xff;
    esr_ = esr_pending_ = 0;
    icr_ = 0;
    xapic_icr_high_ = 0;
    xapic_ldr_ = 0;
    xapic_dfr_ = 0xffffffff;
    for (auto& lvt : lvt_) lvt = kLvtMask;
    irr_.clear_all();
    isr_.clear_all();
    tmr_.clear_all();
    timer_.reset();
}

void LocalApicModel::report_once(Report reason, const char* text, std::uint64_t value) {
    if (reported_ & reason) return;
    reported_ |= reason;
    print(log_, "vm: lapic: ");
    println(log_, text, hex(value));
}

// ---- the timer's expiries ----------------------------------------------------------------

// Nothing ticks: every register access calls this first (so the guest sees expiries up to now),
// and the caller does at next_deadline().
void LocalApicModel::advance(std::uint64_t guest_tsc) {
    if (!hardware_enabled() || !timer_.expire(guest_tsc)) return;
    ++stats_.timer_expiries;
    std::uint32_t lvt = lvt_[kLvtTimer];
    if (lvt & kLvtMask) return;
    accept(static_cast<std::uint8_t>(lvt & 0xff), false);
}

std::optional<std::uint64_t> LocalApicModel::next_deadline() const {
    if (!hardware_enabled() || (lvt_[kLvtTimer] & kLvtMask)) return std::nullopt;
    return timer_.next_expiry();
}

}  // namespace tandem
