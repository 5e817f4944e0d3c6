// The local APIC's xAPIC page at 0xfee00000 (SDM §11.4.1, Table 11-1), which answers only in
// xAPIC mode. Its registers are the x2APIC ones at offset index << 4, except where the two
// interfaces differ (§11.12.1.2): the 8-bit xAPIC ICR destination in a separate high word, the
// logical destination and format registers the guest sets, no SELF IPI; and, unlike the MSRs, the
// page never faults: reserved bits are ignored and other writes dropped.
#include "hypervisor/devices/local_apic_model.hpp"
#include "hypervisor/devices/local_apic_registers.hpp"

namespace tandem {

using namespace lapic;

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

}  // namespace tandem
