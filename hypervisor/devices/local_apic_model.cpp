#include "hypervisor/devices/local_apic_model.hpp"

namespace tandem {
namespace {

// x2APIC register indexes: MSR 0x800 + (xAPIC offset >> 4) (SDM Table 11-6).
enum Reg : unsigned {
    kId = 0x02, kVersionReg = 0x03, kTpr = 0x08, kPpr = 0x0a, kEoi = 0x0b, kLdr = 0x0d, kSvr = 0x0f,
    kIsr = 0x10, kTmr = 0x18, kIrr = 0x20, kEsr = 0x28, kLvtCmciReg = 0x2f, kIcr = 0x30, kLvtTimerReg = 0x32,
    kLvtErrorReg = 0x37, kInitialCount = 0x38, kCurrentCount = 0x39, kDivideConfig = 0x3e, kSelfIpi = 0x3f,
};

constexpr std::uint32_t kLdrApic0 = 1;         // logical x2APIC id of APIC 0: cluster 0, bit 0 (SDM §11.12.10.2)
constexpr std::uint32_t kSvrWritable = 0x3ff;  // vector, APIC enable, focus checking; bit 12 unsupported
constexpr std::uint32_t kEsrSendIllegalVector = 1u << 5, kEsrReceiveIllegalVector = 1u << 6;
constexpr std::uint32_t kEsrBits = kEsrSendIllegalVector | kEsrReceiveIllegalVector;
constexpr std::uint32_t kLvtDeliveryStatus = 1u << 12, kLvtRemoteIrr = 1u << 14;
constexpr std::uint32_t kLvtTimerModeShift = 17;
// ICR in x2APIC mode: bits 13, 16-17 and 20-31 are reserved; delivery status (12) reads as 0.
constexpr std::uint64_t kIcrReserved = (1ull << 13) | (3ull << 16) | (0xfffull << 20);
constexpr std::uint64_t kIcrDeliveryStatus = 1ull << 12;
constexpr std::uint32_t kBroadcast = 0xffffffff;

// The bits of each LVT entry the guest may set (SDM Figure 11-8), read-only ones included:
// writing those is ignored, writing any other bit is a #GP in x2APIC mode.
constexpr std::uint32_t kLvtWritable[LocalApicModel::kLvtCount] = {
    0x117ff,  // CMCI: vector, delivery mode, mask
    0x710ff,  // timer: vector, mask, mode (17-18)
    0x117ff,  // thermal
    0x117ff,  // performance counters
    0x1f7ff,  // LINT0: vector, delivery mode, polarity, trigger mode, mask
    0x1f7ff,  // LINT1
    0x110ff,  // error: vector, mask
};

constexpr std::uint32_t lvt_stored_bits(unsigned lvt) {
    return kLvtWritable[lvt] & ~(kLvtDeliveryStatus | kLvtRemoteIrr);
}

std::uint64_t reserved_base_bits(unsigned physical_address_bits) {
    return 0x2ffull | (~0ull << physical_address_bits);  // bits 0-7, 9 and above MAXPHYADDR
}

int apic_mode(std::uint64_t base) {  // 0 disabled, 1 xAPIC, 2 x2APIC, 3 invalid (EXTD without EN)
    bool enabled = (base & LocalApicModel::kBaseEnable) != 0, extended = (base & LocalApicModel::kBaseExtd) != 0;
    if (!enabled) return extended ? 3 : 0;
    return extended ? 2 : 1;
}

}  // namespace

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

// ---- the xAPIC page ----------------------------------------------------------------------

namespace {
constexpr unsigned kDfrIndex = 0x0e, kIcrHighIndex = 0x31;
}  // namespace

std::uint64_t LocalApicModel::mmio_read(std::uint64_t offset, unsigned size) {
    if (size != 4 || (offset & 0xf) != 0 || offset >= kXapicPageSize || apic_mode(apic_base_) != 1) return 0;
    advance(clock_.guest_tsc());
    auto index = static_cast<unsigned>(offset >> 4);
    switch (index) {
        case kId: return 0;  // APIC id 0 in bits 31:24
        case kLdr: return xapic_ldr_;
        case kDfrIndex: return xapic_dfr_;
        case kIcr: return static_cast<std::uint32_t>(icr_);
        case kIcrHighIndex: return xapic_icr_high_;
        case kSelfIpi: return 0;  // x2APIC only
        default: {
            auto r = read_register(index);
            return r ? static_cast<std::uint32_t>(*r) : 0;
        }
    }
}

void LocalApicModel::mmio_write(std::uint64_t offset, unsigned size, std::uint64_t value64) {
    if (size != 4 || (offset & 0xf) != 0 || offset >= kXapicPageSize || apic_mode(apic_base_) != 1) return;
    advance(clock_.guest_tsc());
    auto value = static_cast<std::uint32_t>(value64);
    auto index = static_cast<unsigned>(offset >> 4);
    switch (index) {
        case kId: return;  // one CPU: its id stays 0
        case kLdr: xapic_ldr_ = value & 0xff000000u; return;
        case kDfrIndex: xapic_dfr_ = value | 0x0fffffffu; return;
        case kIcrHighIndex: xapic_icr_high_ = value & 0xff000000u; return;
        case kIcr: {
            // In x2APIC form: the 8-bit xAPIC destination becomes APIC 0 (physical 0, or logical
            // when it names this APIC's flat-model bit), broadcast (0xff), or nobody.
            std::uint64_t low = value & ~static_cast<std::uint32_t>(kIcrReserved | kIcrDeliveryStatus);
            std::uint32_t dest8 = xapic_icr_high_ >> 24;
            bool logical = (low >> 11) & 1;
            std::uint32_t destination = 0;
            if (dest8 == 0xff) {
                destination = kBroadcast;
            } else if (logical) {
                destination = (dest8 & (xapic_ldr_ >> 24)) ? kLdrApic0 : 0x10000;  // 0x10000: another cluster
            } else {
                destination = dest8 == 0 ? 0 : dest8;
            }
            icr_ = low;
            send_ipi(static_cast<std::uint64_t>(destination) << 32 | low);
            return;
        }
        case kEoi: end_of_interrupt(); return;
        case kEsr:
            esr_ = esr_pending_;
            esr_pending_ = 0;
            return;
        case kSelfIpi: return;
        case kLvtCmciReg: (void)write_lvt(kLvtCmci, value & kLvtWritable[kLvtCmci]); return;
        default:
            if (index >= kLvtTimerReg && index <= kLvtErrorReg) {
                auto lvt = static_cast<Lvt>(kLvtTimer + (index - kLvtTimerReg));
                std::uint32_t v = value & kLvtWritable[lvt];
                // A reserved timer mode (3) is ignored, as other reserved bits are.
                if (lvt == kLvtTimer && ((v >> kLvtTimerModeShift) & 3) == 3) v &= ~(3u << kLvtTimerModeShift);
                (void)write_lvt(lvt, v);
                return;
            }
            if (index == kTpr) value &= 0xff;
            if (index == kSvr) value &= kSvrWritable;
            if (index == kDivideConfig) value &= 0x0b;
            (void)write_register(index, value);  // read-only and reserved registers: dropped
            return;
    }
}

void LocalApicModel::save_state(ByteWriter& out) const {
    out.put(config_.tsc_per_apic_tick);
    out.put(apic_base_);
    out.put(tpr_);
    out.put(svr_);
    out.put(esr_);
    out.put(esr_pending_);
    out.put(icr_);
    for (std::uint32_t lvt : lvt_) out.put(lvt);
    for (const ApicVectorSet* set : {&irr_, &isr_, &tmr_}) {
        for (unsigned i = 0; i < ApicVectorSet::kWords; ++i) out.put(set->word(i));
    }
    timer_.save(out);
    out.put(xapic_icr_high_);
    out.put(xapic_ldr_);
    out.put(xapic_dfr_);
}

Status LocalApicModel::restore_state(std::uint16_t version, std::span<const std::uint8_t> in) {
    if (version != 2) return Error::of("lapic0: unsupported state version", version);
    ByteReader r(in);
    std::uint64_t tsc_per_tick = 0, base = 0, icr = 0;
    std::uint8_t tpr = 0;
    std::uint32_t svr = 0, esr = 0, esr_pending = 0, lvt[kLvtCount]{};
    ApicVectorSet sets[3];
    bool ok = r.get(tsc_per_tick) && r.get(base) && r.get(tpr) && r.get(svr) && r.get(esr) && r.get(esr_pending) &&
              r.get(icr);
    for (auto& l : lvt) ok = ok && r.get(l);
    for (auto& set : sets) {
        for (unsigned i = 0; i < ApicVectorSet::kWords; ++i) {
            std::uint32_t w = 0;
            ok = ok && r.get(w);
            set.set_word(i, w);
        }
    }
    if (!ok) return Error::of("lapic0: truncated state");
    // The timer's clock travels with the guest's state (see pit8254_model.cpp): a backup adopts it.
    if (tsc_per_tick == 0 || tsc_per_tick > ApicTimer::kMaxTscPerTick) {
        return Error::of("lapic0: bad APIC timer clock (tsc_per_apic_tick) in state", tsc_per_tick);
    }
    ApicTimer timer(tsc_per_tick);
    if (auto s = timer.load(r); !s) return s;
    std::uint32_t icr_high = 0, ldr = 0, dfr = 0;
    if (!(r.get(icr_high) && r.get(ldr) && r.get(dfr))) return Error::of("lapic0: truncated state");
    if ((icr_high & 0x00ffffffu) || (ldr & 0x00ffffffu) || (dfr & 0x0fffffffu) != 0x0fffffffu) {
        return Error::of("lapic0: reserved xAPIC register bits in state");
    }
    if (r.remaining() != 0) return Error::of("lapic0: trailing bytes in state", r.remaining());
    if ((base & reserved_base_bits(config_.physical_address_bits)) || apic_mode(base) == 3 || !(base & kBaseBsp)) {
        return Error::of("lapic0: bad IA32_APIC_BASE in state", base);
    }
    if ((svr & ~kSvrWritable) || (esr & ~kEsrBits) || (esr_pending & ~kEsrBits) ||
        (icr & (kIcrReserved | kIcrDeliveryStatus))) {
        return Error::of("lapic0: reserved register bits set in state");
    }
    for (unsigned i = 0; i < kLvtCount; ++i) {
        if ((lvt[i] & ~lvt_stored_bits(i)) || (!(svr & kSvrEnable) && !(lvt[i] & kLvtMask))) {
            return Error::of("lapic0: bad LVT entry in state", lvt[i]);
        }
    }
    if (((lvt[kLvtTimer] >> kLvtTimerModeShift) & 3) != static_cast<unsigned>(timer.mode())) {
        return Error::of("lapic0: LVT timer mode and timer state disagree", lvt[kLvtTimer]);
    }
    for (const auto& set : sets) {
        if (set.word(0) & 0xffff) return Error::of("lapic0: vectors 0-15 set in state", set.word(0));
    }
    apic_base_ = base;
    tpr_ = tpr;
    svr_ = svr;
    esr_ = esr;
    esr_pending_ = esr_pending;
    config_.tsc_per_apic_tick = tsc_per_tick;
    icr_ = icr;
    xapic_icr_high_ = icr_high;
    xapic_ldr_ = ldr;
    xapic_dfr_ = dfr;
    for (unsigned i = 0; i < kLvtCount; ++i) lvt_[i] = lvt[i];
    irr_ = sets[0];
    isr_ = sets[1];
    tmr_ = sets[2];
    timer_ = timer;
    return success();
}

}  // namespace tandem
