// The local APIC's register file as the x2APIC MSRs see it (SDM §11.12.1.2, Table 11-6), with
// IA32_APIC_BASE (§11.4.4, §11.12.5) and IA32_TSC_DEADLINE (§11.5.4.1): decoding of each
// register, and the #GP cases (an error result; §11.12.1.3) for reserved registers and bits,
// read-only and write-only registers. The xAPIC page (local_apic_xapic_page.cpp) reaches the same registers
// through read_register()/write_register() and write_lvt().
#include "hypervisor/devices/local_apic_model.hpp"
#include "hypervisor/devices/local_apic_registers.hpp"

namespace tandem {

using namespace lapic;

Result<std::uint64_t> LocalApicModel::read_msr(std::uint32_t msr) {
    advance(clock_.guest_tsc());
    if (msr == kMsrApicBase) return apic_base_;
    if (msr == kMsrTscDeadline) return timer_.deadline();
    if (msr < kMsrX2apicFirst || msr > kMsrX2apicLast) return Error::of("lapic: not a local APIC MSR", msr);
    if (!x2apic_mode()) return Error::of("lapic: x2APIC MSR read outside x2APIC mode", msr);
    return read_register(msr - kMsrX2apicFirst);
}

Status LocalApicModel::write_msr(std::uint32_t msr, std::uint64_t value) {
    advance(clock_.guest_tsc());
    if (msr == kMsrApicBase) return write_apic_base(value);
    if (msr == kMsrTscDeadline) {
        timer_.set_deadline(value);
        // A deadline already past fires now, as the hardware would at once.
        advance(clock_.guest_tsc());
        return success();
    }
    if (msr < kMsrX2apicFirst || msr > kMsrX2apicLast) return Error::of("lapic: not a local APIC MSR", msr);
    if (!x2apic_mode()) return Error::of("lapic: x2APIC MSR write outside x2APIC mode", msr);
    return write_register(msr - kMsrX2apicFirst, value);
}

Result<std::uint64_t> LocalApicModel::read_register(unsigned index) {
    if (index >= kIsr && index < kIsr + 8) return isr_.word(index - kIsr);
    if (index >= kTmr && index < kTmr + 8) return tmr_.word(index - kTmr);
    if (index >= kIrr && index < kIrr + 8) return irr_.word(index - kIrr);
    if (index >= kLvtTimerReg && index <= kLvtErrorReg) return lvt_[kLvtTimer + (index - kLvtTimerReg)];
    switch (index) {
        case kId: return 0;
        case kVersionReg: return kVersion;
        case kTpr: return tpr_;
        case kPpr: return processor_priority();
        case kLdr: return kLdrApic0;
        case kSvr: return svr_;
        case kEsr: return esr_;
        case kLvtCmciReg: return lvt_[kLvtCmci];
        case kIcr: return icr_;
        case kInitialCount: return timer_.initial_count();
        case kCurrentCount: return timer_.current_count(clock_.guest_tsc());
        case kDivideConfig: return timer_.divide_config();
        case kEoi:
        case kSelfIpi: return Error::of("lapic: read of a write-only x2APIC register", kMsrX2apicFirst + index);
        default: return Error::of("lapic: reserved x2APIC register", kMsrX2apicFirst + index);
    }
}

Status LocalApicModel::write_register(unsigned index, std::uint64_t value) {
    const std::uint32_t msr = kMsrX2apicFirst + index;
    if (index == kIcr) {
        if (value & kIcrReserved) return Error::of("lapic: reserved ICR bits set", value);
        icr_ = value & ~kIcrDeliveryStatus;
        send_ipi(icr_);
        return success();
    }
    if (index == kLvtCmciReg) return write_lvt(kLvtCmci, value);
    if (index >= kLvtTimerReg && index <= kLvtErrorReg) {
        return write_lvt(static_cast<Lvt>(kLvtTimer + (index - kLvtTimerReg)), value);
    }
    auto require = [&](std::uint64_t allowed) -> Status {
        if (value & ~allowed) return Error::of("lapic: reserved bits set in an x2APIC register write", msr);
        return success();
    };
    switch (index) {
        case kTpr:
            if (auto s = require(0xff); !s) return s;
            tpr_ = static_cast<std::uint8_t>(value);
            return success();
        case kEoi:
            if (value != 0) return Error::of("lapic: non-zero write to the EOI register", value);
            end_of_interrupt();
            return success();
        case kSvr:
            if (auto s = require(kSvrWritable); !s) return s;
            svr_ = static_cast<std::uint32_t>(value);
            // Software-disabling sets every LVT mask bit (SDM §11.4.7.2).
            if (!software_enabled()) {
                for (auto& lvt : lvt_) lvt |= kLvtMask;
            }
            return success();
        case kEsr:
            if (value != 0) return Error::of("lapic: non-zero write to the ESR", value);
            esr_ = esr_pending_;  // a write latches the errors seen since the last one (SDM §11.5.3)
            esr_pending_ = 0;
            return success();
        case kInitialCount:
            if (auto s = require(0xffffffff); !s) return s;
            timer_.set_initial_count(static_cast<std::uint32_t>(value), clock_.guest_tsc());
            return success();
        case kDivideConfig:
            if (auto s = require(0x0b); !s) return s;
            timer_.set_divide_config(static_cast<std::uint8_t>(value), clock_.guest_tsc());
            return success();
        case kSelfIpi:
            if (auto s = require(0xff); !s) return s;
            send_ipi((1ull << 18) | value);  // shorthand "self", fixed
            return success();
        case kId:
        case kVersionReg:
        case kPpr:
        case kLdr:
        case kCurrentCount: return Error::of("lapic: write to a read-only x2APIC register", msr);
        default:
            if (index >= kIsr && index < kIrr + 8) return Error::of("lapic: write to a read-only x2APIC register", msr);
            return Error::of("lapic: reserved x2APIC register", msr);
    }
}

Status LocalApicModel::write_lvt(Lvt lvt, std::uint64_t value) {
    if (value & ~static_cast<std::uint64_t>(kLvtWritable[lvt])) return Error::of("lapic: reserved LVT bits set", value);
    auto entry = static_cast<std::uint32_t>(value) & lvt_stored_bits(lvt);
    if (lvt == kLvtTimer) {
        unsigned mode = (entry >> kLvtTimerModeShift) & 3;
        if (mode == 3) return Error::of("lapic: reserved timer mode", value);
        timer_.set_mode(static_cast<ApicTimer::Mode>(mode));
    }
    if (!software_enabled()) entry |= kLvtMask;
    lvt_[lvt] = entry;
    return success();
}

Status LocalApicModel::write_apic_base(std::uint64_t value) {
    // SDM §11.4.4, §11.12.5: reserved bits, the invalid state (EXTD without EN), and the two
    // illegal transitions (x2APIC -> xAPIC, disabled -> x2APIC) are #GP.
    if (value & reserved_base_bits(config_.physical_address_bits)) {
        return Error::of("lapic: reserved IA32_APIC_BASE bits set", value);
    }
    int from = apic_mode(apic_base_), to = apic_mode(value);
    if (to == 3) return Error::of("lapic: IA32_APIC_BASE with EXTD but not EN", value);
    if ((from == 2 && to == 1) || (from == 0 && to == 2)) {
        return Error::of("lapic: illegal IA32_APIC_BASE transition", value);
    }
    apic_base_ = value | kBaseBsp;  // one vCPU: always the bootstrap processor
    // Register contents do not survive the disabled state (SDM §11.12.5.1).
    if (to == 0 && from != 0) reset_registers();
    return success();
}

}  // namespace tandem
