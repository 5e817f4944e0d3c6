// 64-bit descriptor formats: segment and TSS descriptors in the GDT, the TSS itself, and IDT
// gates (Intel SDM Vol. 3A §3.4.5, §8.2.3, §7.14.1). Builders are constexpr so their bit
// layouts are checked at compile time below.
#pragma once

#include <cstdint>

namespace tandem::x86 {

struct SegmentDescriptor {
    std::uint64_t raw;
};
static_assert(sizeof(SegmentDescriptor) == 8);

// 64-bit code (L=1, D=0) or data segment, present, DPL 0, accessed (SDM Vol. 3A §3.4.5).
constexpr SegmentDescriptor code64_descriptor() { return {0x00af9b000000ffffull}; }
constexpr SegmentDescriptor data_descriptor() { return {0x00cf93000000ffffull}; }
static_assert((code64_descriptor().raw >> 53 & 1) == 1, "L bit set for 64-bit code");
static_assert((code64_descriptor().raw >> 47 & 1) == 1, "present");

struct [[gnu::packed]] Tss64 {
    std::uint32_t reserved0;
    std::uint64_t rsp[3];
    std::uint64_t reserved1;
    std::uint64_t ist[7];  // ist[0] is IST1
    std::uint64_t reserved2;
    std::uint16_t reserved3;
    std::uint16_t iomap_base;
};
static_assert(sizeof(Tss64) == 104, "SDM Vol. 3A Figure 8-11");

// A TSS descriptor is 16 bytes in long mode: two GDT slots.
struct TssDescriptor {
    std::uint64_t low;
    std::uint64_t high;
};
static_assert(sizeof(TssDescriptor) == 16);

constexpr TssDescriptor tss_descriptor(std::uint64_t base, std::uint32_t limit) {
    std::uint64_t low = (limit & 0xffffull) | ((base & 0xffffffull) << 16) |
                        (0x89ull << 40) |  // present, DPL 0, type 9 = available 64-bit TSS
                        ((static_cast<std::uint64_t>(limit) >> 16 & 0xf) << 48) |
                        ((base >> 24 & 0xff) << 56);
    return {low, base >> 32};
}
static_assert(tss_descriptor(0x1234'5678'9abc'def0ull, 103).high == 0x12345678);
static_assert((tss_descriptor(0x1234'5678'9abc'def0ull, 103).low >> 16 & 0xffffff) == 0xbcdef0);
static_assert((tss_descriptor(0x1234'5678'9abc'def0ull, 103).low >> 56) == 0x9a);

struct IdtGate {
    std::uint16_t offset_low;
    std::uint16_t selector;
    std::uint8_t ist;
    std::uint8_t type_attributes;
    std::uint16_t offset_mid;
    std::uint32_t offset_high;
    std::uint32_t reserved;
};
static_assert(sizeof(IdtGate) == 16, "SDM Vol. 3A Figure 7-8");

// Interrupt gate (type 0xE: IF cleared on entry), present, DPL 0.
constexpr IdtGate interrupt_gate(std::uint64_t handler, std::uint16_t selector, std::uint8_t ist) {
    return IdtGate{static_cast<std::uint16_t>(handler & 0xffff), selector,
                   static_cast<std::uint8_t>(ist & 7), 0x8e,
                   static_cast<std::uint16_t>(handler >> 16 & 0xffff),
                   static_cast<std::uint32_t>(handler >> 32), 0};
}
static_assert(interrupt_gate(0xffff'8000'1234'5678ull, 8, 1).offset_high == 0xffff8000);
static_assert(interrupt_gate(0xffff'8000'1234'5678ull, 8, 1).offset_mid == 0x1234);

struct [[gnu::packed]] DescriptorTablePointer {
    std::uint16_t limit;
    std::uint64_t base;
};
static_assert(sizeof(DescriptorTablePointer) == 10);

// The hypervisor's GDT selectors (descriptor_tables.cpp lays the table out in this order).
inline constexpr std::uint16_t kCodeSelector = 0x08;
inline constexpr std::uint16_t kDataSelector = 0x10;
inline constexpr std::uint16_t kTssSelector = 0x18;

// Interrupt stack table slots: faults that may arrive on a broken stack get a known-good one.
inline constexpr std::uint8_t kIstDoubleFault = 1;
inline constexpr std::uint8_t kIstNmi = 2;
inline constexpr std::uint8_t kIstMachineCheck = 3;

}  // namespace tandem::x86
