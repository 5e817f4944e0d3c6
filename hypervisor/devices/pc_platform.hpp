// The PC an unmodified kernel expects around its CPU (DESIGN §6), assembled from the device
// models: a local APIC (xAPIC page and MSRs, TSC-deadline timer), an IOAPIC at 0xfec00000, the
// 8259 pair (present, masked: Linux on hardware-reduced ACPI never unmasks it), the 8254 PIT,
// the CMOS RTC, the ACPI PM timer and the power/reset ports. It is the vCPU's
// GuestInterruptSource, and its models are all checkpointed (devices()).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "hypervisor/devices/acpi_pm_timer.hpp"
#include "hypervisor/devices/cmos_rtc_model.hpp"
#include "hypervisor/devices/guest_interrupt_source.hpp"
#include "hypervisor/devices/ioapic_model.hpp"
#include "hypervisor/devices/local_apic_model.hpp"
#include "hypervisor/devices/mmio_bus.hpp"
#include "hypervisor/devices/pic8259_model.hpp"
#include "hypervisor/devices/pit8254_model.hpp"
#include "hypervisor/devices/power_control.hpp"

namespace tandem {

struct PcPlatformConfig {
    std::uint64_t tsc_hz = 1;
    std::int64_t unix_seconds = 0;  // the RTC's time at guest TSC 0
    PowerPorts power{};
};

// The APIC timer's clock as CPUID leaf 0x15 describes it (apic_timer.hpp): TSC / tsc_per_tick,
// with the crystal frequency in Hz fitting CPUID's 32 bits.
struct ApicTimerClock {
    std::uint32_t crystal_hz;
    std::uint32_t tsc_per_tick;
};
ApicTimerClock apic_timer_clock(std::uint64_t tsc_hz);

class PcPlatform final : public GuestInterruptSource {
public:
    PcPlatform(GuestClock& clock, Writer& log, const PcPlatformConfig& config);

    // Claims the models' ports and memory ranges.
    Status attach(PortIoBus& io, MmioBus& mmio);

    IrqLines& irq_lines() { return ioapic_; }
    const PowerControl& power() const { return power_; }
    const LocalApicModel& local_apic() const { return lapic_; }
    const IoApicModel& ioapic() const { return ioapic_; }
    const AcpiPmTimer& pm_timer() const { return pm_timer_; }
    std::span<StatefulDevice* const> devices() { return devices_; }

    bool handles_msr(std::uint32_t msr) const override { return LocalApicModel::is_apic_msr(msr); }
    Result<std::uint64_t> read_msr(std::uint32_t msr) override { return lapic_.read_msr(msr); }
    Status write_msr(std::uint32_t msr, std::uint64_t value) override { return lapic_.write_msr(msr, value); }
    void advance(std::uint64_t guest_tsc) override;
    std::optional<std::uint8_t> pending_vector() const override { return lapic_.pending_vector(); }
    std::optional<std::uint8_t> acknowledge() override { return lapic_.acknowledge(); }
    std::optional<std::uint64_t> next_deadline() const override;
    bool has_requests() const override { return lapic_.has_requests(); }
    void describe(Writer& out, std::uint64_t guest_tsc) const override;

private:
    LocalApicModel lapic_;
    IoApicModel ioapic_;
    Pic8259Model pic_;
    Pit8254Model pit_;
    CmosRtcModel rtc_;
    AcpiPmTimer pm_timer_;
    PowerControl power_;
    StatefulDevice* devices_[6];
};

}  // namespace tandem
