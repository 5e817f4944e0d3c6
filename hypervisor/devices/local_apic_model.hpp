// The guest's local APIC in x2APIC mode (Intel SDM Vol. 3A ch. 11, §11.12): the MSR interface
// 0x800-0x8ff plus IA32_APIC_BASE (0x1b) and IA32_TSC_DEADLINE (0x6e0), interrupt acceptance
// and prioritisation (IRR, ISR, TMR, TPR, PPR), EOI (with the broadcast to the IOAPIC for
// level-triggered vectors), self-IPIs, and the timer (apic_timer.hpp). One vCPU: APIC id 0.
//
// The VMX layer sends RDMSR/WRMSR exits for is_apic_msr() here; an error result is a #GP(0) for
// the guest (SDM §11.12.1.2, §11.12.1.3: reserved registers, writes to read-only ones, reads of
// write-only ones, non-zero reserved bits, x2APIC MSRs outside x2APIC mode, illegal
// IA32_APIC_BASE values and transitions). Interrupts are injected by the caller: pending_vector()
// says whether one may be delivered now, acknowledge() moves it from IRR to ISR as it is injected.
//
// Both register interfaces exist: the x2APIC MSRs, and the xAPIC page at 0xfee00000 (SDM §11.4.1,
// Table 11-1) as an MmioDevice, which answers only in xAPIC mode. Linux needs the page: without
// interrupt remapping it leaves x2APIC mode unless it recognises the hypervisor (arch/x86/kernel/
// apic/apic.c, try_to_enable_x2apic), so tandem's guest starts in xAPIC mode
// (LocalApicConfig::x2apic_at_reset false) and keeps the TSC-deadline MSR, which works in both. Nothing drives LINT0, LINT1,
// the thermal, performance-counter or CMCI entries: they hold what the guest writes and never
// fire. IPIs reach only APIC 0 itself (fixed or lowest priority); others are dropped, and
// reported once.
#pragma once

#include <cstdint>
#include <optional>

#include "hypervisor/console/writer.hpp"
#include "hypervisor/devices/apic_bus.hpp"
#include "hypervisor/devices/apic_timer.hpp"
#include "hypervisor/devices/apic_vector_set.hpp"
#include "hypervisor/devices/device_state.hpp"
#include "hypervisor/devices/guest_clock.hpp"
#include "hypervisor/devices/mmio_bus.hpp"
#include "hypervisor/util/result.hpp"

namespace tandem {

struct LocalApicConfig {
    // The APIC timer's input clock is the guest TSC divided by this (apic_timer.hpp).
    std::uint64_t tsc_per_apic_tick = 1;
    // The guest's MAXPHYADDR (CPUID 0x80000008 EAX[7:0]): IA32_APIC_BASE bits from here up are
    // reserved. Clamped to [36, 52].
    unsigned physical_address_bits = 39;
    // Leave reset in x2APIC mode (as firmware that enabled it would); otherwise in xAPIC mode,
    // and the guest must switch to x2APIC mode itself before the MSRs answer.
    bool x2apic_at_reset = true;
};

struct LocalApicStats {
    std::uint64_t accepted = 0;          // interrupts put into the IRR (external, IPI, timer, error)
    std::uint64_t dropped_disabled = 0;  // arrived while the APIC was hardware- or software-disabled
    std::uint64_t illegal_vectors = 0;   // vectors 0-15 (recorded in the ESR)
    std::uint64_t timer_expiries = 0;    // the timer fired (masked or not)
    std::uint64_t self_ipis = 0;
    std::uint64_t ipis_dropped = 0;    // to other CPUs, or with a delivery mode not modelled
    std::uint64_t eoi_broadcasts = 0;  // EOIs of level-triggered vectors sent to the IOAPIC
};

class LocalApicModel final : public ApicInterruptSink, public StatefulDevice, public MmioDevice {
public:
    static constexpr std::uint32_t kMsrApicBase = 0x1b;
    static constexpr std::uint32_t kMsrTscDeadline = 0x6e0;
    static constexpr std::uint32_t kMsrX2apicFirst = 0x800, kMsrX2apicLast = 0x8ff;
    static constexpr std::uint64_t kDefaultBase = 0xfee00000;
    static constexpr std::uint64_t kBaseBsp = 1ull << 8, kBaseExtd = 1ull << 10, kBaseEnable = 1ull << 11;
    // Version 0x14 (integrated APIC), max LVT entry 6 (CMCI included), no EOI-broadcast
    // suppression (SDM §11.4.8, Figure 11-7).
    static constexpr std::uint32_t kVersion = 0x00060014;

    LocalApicModel(GuestClock& clock, Writer& log, const LocalApicConfig& config = {});
    // Where EOIs of level-triggered vectors go (the IOAPIC); may be null.
    void set_eoi_listener(EoiListener* listener) { eoi_ = listener; }

    // IA32_APIC_BASE, IA32_TSC_DEADLINE and the x2APIC range 0x800-0x8ff.
    static bool is_apic_msr(std::uint32_t msr) {
        return msr == kMsrApicBase || msr == kMsrTscDeadline || (msr >= kMsrX2apicFirst && msr <= kMsrX2apicLast);
    }
    Result<std::uint64_t> read_msr(std::uint32_t msr);
    Status write_msr(std::uint32_t msr, std::uint64_t value);

    // The xAPIC page (attach at kDefaultBase, kXapicPageSize). Registers are 32 bits on 16-byte
    // boundaries; other accesses, and any access outside xAPIC mode, read 0 and are dropped.
    // Unlike the MSRs, the page never faults: reserved bits are ignored (SDM §11.4.1).
    static constexpr std::uint64_t kXapicPageSize = 0x1000;
    std::uint64_t mmio_read(std::uint64_t offset, unsigned size) override;
    void mmio_write(std::uint64_t offset, unsigned size, std::uint64_t value) override;

    // A fixed interrupt from the IOAPIC (or any other source) into the IRR.
    bool accept(std::uint8_t vector, bool level_triggered) override;
    // The highest IRR vector whose priority class is above the PPR's, if any (SDM §11.8.3.1).
    std::optional<std::uint8_t> pending_vector() const;
    // Takes pending_vector() from the IRR into the ISR, as its injection starts.
    std::optional<std::uint8_t> acknowledge();
    // Fires timer expiries up to guest_tsc into the IRR.
    void advance(std::uint64_t guest_tsc);
    // The guest TSC at which the (unmasked) timer fires next.
    std::optional<std::uint64_t> next_deadline() const;

    bool hardware_enabled() const { return (apic_base_ & kBaseEnable) != 0; }
    bool x2apic_mode() const { return hardware_enabled() && (apic_base_ & kBaseExtd) != 0; }
    bool software_enabled() const { return (svr_ & kSvrEnable) != 0; }
    std::uint8_t processor_priority() const;
    bool has_requests() const { return irr_.highest() >= 0; }
    // IRR, ISR (highest vectors), TPR, PPR and the timer's LVT entry and mode, for diagnostics.
    void describe(Writer& out, std::uint64_t guest_tsc) const;
    const LocalApicStats& stats() const { return stats_; }

    std::uint16_t state_id() const override { return kDeviceIdLocalApic0; }
    std::uint16_t state_version() const override { return 2; }
    const char* state_name() const override { return "lapic0"; }
    void save_state(ByteWriter& out) const override;
    Status restore_state(std::uint16_t version, std::span<const std::uint8_t> in) override;

    static constexpr std::uint32_t kSvrEnable = 1u << 8;
    static constexpr std::uint32_t kLvtMask = 1u << 16;
    enum Lvt : unsigned { kLvtCmci, kLvtTimer, kLvtThermal, kLvtPerf, kLvtLint0, kLvtLint1, kLvtError, kLvtCount };

private:
    enum Report : unsigned { kReportIpiMode = 1, kReportIpiOtherCpu = 2, kReportLeftX2apic = 4 };

    Result<std::uint64_t> read_register(unsigned index);
    Status write_register(unsigned index, std::uint64_t value);
    Status write_apic_base(std::uint64_t value);
    Status write_lvt(Lvt lvt, std::uint64_t value);
    void send_ipi(std::uint64_t icr);
    void end_of_interrupt();
    void note_error(std::uint32_t esr_bit);
    void reset_registers();
    void report_once(Report reason, const char* text, std::uint64_t value);

    GuestClock& clock_;
    Writer& log_;
    EoiListener* eoi_ = nullptr;
    LocalApicConfig config_;
    std::uint64_t apic_base_ = 0;
    std::uint8_t tpr_ = 0;
    std::uint32_t svr_ = 0xff;
    std::uint32_t esr_ = 0, esr_pending_ = 0;
    std::uint64_t icr_ = 0;
    std::uint32_t xapic_icr_high_ = 0;      // xAPIC ICR bits 63:32 (destination in 63:56)
    std::uint32_t xapic_ldr_ = 0;           // xAPIC logical destination (bits 31:24)
    std::uint32_t xapic_dfr_ = 0xffffffff;  // xAPIC destination format (flat model at reset)
    std::uint32_t lvt_[kLvtCount]{};
    ApicVectorSet irr_, isr_, tmr_;
    ApicTimer timer_;
    LocalApicStats stats_{};
    unsigned reported_ = 0;
};

}  // namespace tandem
