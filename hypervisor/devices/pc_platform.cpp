#include "hypervisor/devices/pc_platform.hpp"

namespace tandem {

ApicTimerClock apic_timer_clock(std::uint64_t tsc_hz) {
    // The smallest divider that brings the crystal below 2^31 Hz (CPUID.15H:ECX is 32 bits).
    std::uint64_t per_tick = tsc_hz / 0x7fffffffu + 1;
    std::uint64_t crystal = tsc_hz / per_tick;
    if (crystal == 0) crystal = 1;
    return {static_cast<std::uint32_t>(crystal), static_cast<std::uint32_t>(per_tick)};
}

PcPlatform::PcPlatform(GuestClock& clock, Writer& log, const PcPlatformConfig& config)
    : lapic_(clock, log,
             LocalApicConfig{.tsc_per_apic_tick = apic_timer_clock(config.tsc_hz).tsc_per_tick,
                             .physical_address_bits = 39,
                             .x2apic_at_reset = false}),
      ioapic_(lapic_, log),
      pic_(log),
      pit_(clock, ioapic_, config.tsc_hz),
      rtc_(clock, ioapic_, CmosRtcConfig{config.tsc_hz, config.unix_seconds, 0}),
      pm_timer_(clock, config.tsc_hz),
      power_(config.power),
      devices_{&lapic_, &ioapic_, &pic_, &pit_, &rtc_, &pm_timer_} {
    lapic_.set_eoi_listener(&ioapic_);
}

Status PcPlatform::attach(PortIoBus& io, MmioBus& mmio) {
    const PowerPorts& p = power_.ports();
    Status steps[] = {
        mmio.attach(LocalApicModel::kDefaultBase, LocalApicModel::kXapicPageSize, lapic_),
        mmio.attach(IoApicModel::kBase, IoApicModel::kSize, ioapic_),
        io.attach(Pic8259Model::kMasterBase, Pic8259Model::kPortsPerRange, pic_),
        io.attach(Pic8259Model::kSlaveBase, Pic8259Model::kPortsPerRange, pic_),
        io.attach(Pic8259Model::kElcrBase, Pic8259Model::kPortsPerRange, pic_),
        io.attach(Pit8254Model::kBase, Pit8254Model::kPorts, pit_),
        io.attach(Pit8254Model::kPortB, 1, pit_),
        io.attach(CmosRtcModel::kBase, CmosRtcModel::kPorts, rtc_),
        io.attach(AcpiPmTimer::kPort, AcpiPmTimer::kPorts, pm_timer_),
        io.attach(p.sleep_control, 1, power_),
        io.attach(p.sleep_status, 1, power_),
        io.attach(p.reset, 1, power_),
        io.attach(PowerControl::kKeyboardCommand, 1, power_),
    };
    for (Status& s : steps) {
        if (!s) return s;
    }
    return success();
}

void PcPlatform::advance(std::uint64_t guest_tsc) {
    pit_.advance(guest_tsc);
    rtc_.advance(guest_tsc);
    lapic_.advance(guest_tsc);
}

std::optional<std::uint64_t> PcPlatform::next_deadline() const {
    std::optional<std::uint64_t> best = lapic_.next_deadline();
    for (auto d : {pit_.next_deadline(), rtc_.next_deadline()}) {
        if (d && (!best || *d < *best)) best = d;
    }
    return best;
}

void PcPlatform::describe(Writer& out, std::uint64_t guest_tsc) const {
    lapic_.describe(out, guest_tsc);
    auto deadline = next_deadline();
    if (!deadline) return print(out, "; no timer armed");
    if (*deadline <= guest_tsc) return print(out, "; a timer is due since {} TSC cycles", guest_tsc - *deadline);
    print(out, "; next timer in {} TSC cycles", *deadline - guest_tsc);
}

}  // namespace tandem
