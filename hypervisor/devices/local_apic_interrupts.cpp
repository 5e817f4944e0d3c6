// The local APIC's interrupt path (SDM §11.8): acceptance into the IRR, the processor priority
// (TPR against the highest ISR class), the choice of what may be injected and its move into the
// ISR, EOI with the broadcast of level-triggered vectors to the IOAPIC, the illegal-vector
// errors and their LVT error interrupt, and IPIs, which on one vCPU can only reach APIC 0 itself.
#include "hypervisor/devices/local_apic_model.hpp"
#include "hypervisor/devices/local_apic_registers.hpp"

namespace tandem {

using namespace lapic;

std::uint8_t LocalApicModel::processor_priority() const {
    int isrv = isr_.highest();
    auto isr_class = static_cast<std::uint8_t>(isrv < 0 ? 0 : isrv & 0xf0);
    return (tpr_ & 0xf0) >= isr_class ? tpr_ : isr_class;
}

bool LocalApicModel::accept(std::uint8_t vector, bool level_triggered) {
    if (!hardware_enabled()) {
        ++stats_.dropped_disabled;
        return false;
    }
    if (vector < 16) {
        ++stats_.illegal_vectors;
        note_error(kEsrReceiveIllegalVector);
        return false;
    }
    // A software-disabled APIC takes no fixed interrupts (as KVM treats it; SDM §11.4.7.2).
    if (!software_enabled()) {
        ++stats_.dropped_disabled;
        return false;
    }
    irr_.set(vector);
    if (level_triggered) {
        tmr_.set(vector);
    } else {
        tmr_.clear(vector);
    }
    ++stats_.accepted;
    return true;
}

void LocalApicModel::note_error(std::uint32_t esr_bit) {
    bool fresh = (esr_pending_ & esr_bit) == 0;
    esr_pending_ |= esr_bit;
    std::uint32_t lvt = lvt_[kLvtError];
    // The error interrupt; an illegal vector in the error entry itself only records the error.
    if (fresh && !(lvt & kLvtMask) && (lvt & 0xff) >= 16) accept(static_cast<std::uint8_t>(lvt & 0xff), false);
}

std::optional<std::uint8_t> LocalApicModel::pending_vector() const {
    if (!hardware_enabled()) return std::nullopt;
    int v = irr_.highest();
    if (v < 0 || (v & 0xf0) <= (processor_priority() & 0xf0)) return std::nullopt;
    return static_cast<std::uint8_t>(v);
}

std::optional<std::uint8_t> LocalApicModel::acknowledge() {
    auto v = pending_vector();
    if (v) {
        irr_.clear(*v);
        isr_.set(*v);
    }
    return v;
}

void LocalApicModel::end_of_interrupt() {
    int v = isr_.highest();
    if (v < 0) return;
    auto vector = static_cast<std::uint8_t>(v);
    isr_.clear(vector);
    // Level-triggered: tell the IOAPIC so it clears the entry's remote IRR (SDM §11.8.5).
    if (tmr_.test(vector)) {
        ++stats_.eoi_broadcasts;
        if (eoi_ != nullptr) eoi_->end_of_interrupt(vector);
    }
}

void LocalApicModel::describe(Writer& out, std::uint64_t guest_tsc) const {
    auto vector = [&](const char* name, const ApicVectorSet& set) {
        int v = set.highest();
        if (v < 0) return print(out, "{} empty", name);
        print(out, "{} {}", name, hex(static_cast<std::uint64_t>(v), 2));
    };
    print(out, "lapic: {}", hardware_enabled() ? (software_enabled() ? "enabled" : "software-disabled") : "disabled");
    vector(", IRR highest", irr_);
    vector(", ISR highest", isr_);
    print(out, ", TPR {}, PPR {}, timer LVT {} ({}), timer count {}", hex(tpr_, 2), hex(processor_priority(), 2),
          hex(lvt_[kLvtTimer], 8), timer_.mode() == ApicTimer::Mode::tsc_deadline ? "TSC deadline"
                                   : timer_.mode() == ApicTimer::Mode::periodic   ? "periodic"
                                                                                  : "one-shot",
          timer_.current_count(guest_tsc));
}

// ---- IPIs --------------------------------------------------------------------------------

void LocalApicModel::send_ipi(std::uint64_t icr) {
    auto vector = static_cast<std::uint8_t>(icr & 0xff);
    unsigned mode = (icr >> 8) & 7;
    bool logical = (icr >> 11) & 1;
    unsigned shorthand = (icr >> 18) & 3;
    auto destination = static_cast<std::uint32_t>(icr >> 32);
    // Who is addressed (SDM §11.6.1, §11.12.9): self, all (including self), all but self, or a
    // destination: physical APIC id 0, the logical id of APIC 0 (cluster 0, bit 0), or broadcast.
    bool addressed_by_destination =
        logical ? destination == kBroadcast || (destination >> 16 == 0 && (destination & kLdrApic0))
                : destination == 0 || destination == kBroadcast;
    bool to_self = shorthand == 1 || shorthand == 2 || (shorthand == 0 && addressed_by_destination);
    if (!to_self) {
        // A single vCPU: "all but self" and any other destination reach nobody.
        ++stats_.ipis_dropped;
        report_once(kReportIpiOtherCpu, "IPI to another CPU (ICR {}) dropped: the guest has a single CPU, APIC 0", icr);
        return;
    }
    if (mode != 0 && mode != 1) {  // fixed and lowest priority reach APIC 0; NMI, INIT, SIPI, SMI are not modelled
        ++stats_.ipis_dropped;
        report_once(kReportIpiMode, "IPI to itself with a delivery mode tandem does not model (ICR {}) dropped", icr);
        return;
    }
    if (vector < 16) {
        ++stats_.illegal_vectors;
        note_error(kEsrSendIllegalVector);
        return;
    }
    ++stats_.self_ipis;
    accept(vector, false);
}

}  // namespace tandem
