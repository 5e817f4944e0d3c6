// The local APIC's register encodings, shared by the model's files (local_apic_model.hpp says
// what is modelled): register indexes (x2APIC MSR 0x800 + index, xAPIC page offset index << 4),
// the writable bits of SVR, ICR and each LVT entry, the ESR bits tandem raises, and the
// IA32_APIC_BASE mode decoding. One place, because the MSR interface, the xAPIC page and the
// state restore must agree on every bit.
#pragma once

#include <cstdint>

#include "hypervisor/devices/local_apic_model.hpp"

namespace tandem::lapic {

// x2APIC register indexes: MSR 0x800 + (xAPIC offset >> 4) (SDM Table 11-6).
enum Reg : unsigned {
    kId = 0x02, kVersionReg = 0x03, kTpr = 0x08, kPpr = 0x0a, kEoi = 0x0b, kLdr = 0x0d, kSvr = 0x0f,
    kIsr = 0x10, kTmr = 0x18, kIrr = 0x20, kEsr = 0x28, kLvtCmciReg = 0x2f, kIcr = 0x30, kLvtTimerReg = 0x32,
    kLvtErrorReg = 0x37, kInitialCount = 0x38, kCurrentCount = 0x39, kDivideConfig = 0x3e, kSelfIpi = 0x3f,
};

// The logical x2APIC id of APIC 0: cluster 0, bit 0 (SDM §11.12.10.2).
inline constexpr std::uint32_t kLdrApic0 = 1;
inline constexpr std::uint32_t kSvrWritable = 0x3ff;  // vector, APIC enable, focus checking; bit 12 unsupported
inline constexpr std::uint32_t kEsrSendIllegalVector = 1u << 5, kEsrReceiveIllegalVector = 1u << 6;
inline constexpr std::uint32_t kEsrBits = kEsrSendIllegalVector | kEsrReceiveIllegalVector;
inline constexpr std::uint32_t kLvtDeliveryStatus = 1u << 12, kLvtRemoteIrr = 1u << 14;
inline constexpr std::uint32_t kLvtTimerModeShift = 17;
// ICR in x2APIC mode: bits 13, 16-17 and 20-31 are reserved; delivery status (12) reads as 0.
inline constexpr std::uint64_t kIcrReserved = (1ull << 13) | (3ull << 16) | (0xfffull << 20);
inline constexpr std::uint64_t kIcrDeliveryStatus = 1ull << 12;
inline constexpr std::uint32_t kBroadcast = 0xffffffff;

// The bits of each LVT entry the guest may set (SDM Figure 11-8), read-only ones included:
// writing those is ignored, writing any other bit is a #GP in x2APIC mode.
inline constexpr std::uint32_t kLvtWritable[LocalApicModel::kLvtCount] = {
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

constexpr std::uint64_t reserved_base_bits(unsigned physical_address_bits) {
    return 0x2ffull | (~0ull << physical_address_bits);  // bits 0-7, 9 and above MAXPHYADDR
}

constexpr int apic_mode(std::uint64_t base) {  // 0 disabled, 1 xAPIC, 2 x2APIC, 3 invalid (EXTD without EN)
    bool enabled = (base & LocalApicModel::kBaseEnable) != 0, extended = (base & LocalApicModel::kBaseExtd) != 0;
    if (!enabled) return extended ? 3 : 0;
    return extended ? 2 : 1;
}

}  // namespace tandem::lapic
