// The local APIC's state record for checkpoints and takeover (DeviceSet, device_state.hpp):
// version 2's byte layout, and the strict restore that checks every field (reserved bits, the
// APIC base, LVT entries against SVR and the timer's mode, vectors 0-15) before anything changes.
// The layout is what a backup reads from its primary: changing it needs a new state_version().
#include "hypervisor/devices/local_apic_model.hpp"
#include "hypervisor/devices/local_apic_registers.hpp"

namespace tandem {

using namespace lapic;

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
