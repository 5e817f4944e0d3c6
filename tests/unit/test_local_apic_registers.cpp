// The guest's local APIC (hypervisor/devices/local_apic_model.hpp), its registers: the state
// after reset, the x2APIC MSR interface and every access it refuses with #GP (Intel SDM Vol. 3A
// §11.12.1), IA32_APIC_BASE states and transitions (§11.12.5), and the xAPIC page (§11.4.1).
#include <doctest/doctest.h>

#include <cstdint>
#include <set>
#include <string>

#include "device_fakes.hpp"
#include "helpers.hpp"
#include "hypervisor/devices/local_apic_model.hpp"
#include "local_apic_fixture.hpp"

using tandem::LocalApicConfig;
using tandem::LocalApicModel;
using test::status_message;
using namespace lapic_test;

namespace {

// The registers readable in x2APIC mode (SDM Table 11-6).
bool readable(std::uint32_t msr) {
    static const std::set<std::uint32_t> regs = {
        kId,       kVersion,    kTpr,     kPpr,      kLdr,      kSvr,      kEsr,     kLvtCmci, kIcr,
        kLvtTimer, kLvtThermal, kLvtPerf, kLvtLint0, kLvtLint1, kLvtError, kInitial, kCurrent, kDivide};
    return regs.count(msr) != 0 || (msr >= kIsr0 && msr < kIrr0 + 8);
}
bool writable(std::uint32_t msr) {
    static const std::set<std::uint32_t> regs = {
        kTpr,     kEoi,      kSvr,      kEsr,      kLvtCmci, kIcr,    kLvtTimer, kLvtThermal,
        kLvtPerf, kLvtLint0, kLvtLint1, kLvtError, kInitial, kDivide, kSelfIpi};
    return regs.count(msr) != 0;
}

}  // namespace

TEST_SUITE("local_apic") {

TEST_CASE("after reset: x2APIC mode, id 0, everything masked and software-disabled") {
    Apic a;
    CHECK(a.rd(kApicBase) == 0xfee00d00);  // base, BSP, EXTD, EN
    CHECK(a.apic.x2apic_mode());
    CHECK(a.rd(kId) == 0);
    CHECK(a.rd(kVersion) == 0x00060014);
    CHECK(a.rd(kLdr) == 1);
    CHECK(a.rd(kSvr) == 0xff);
    CHECK_FALSE(a.apic.software_enabled());
    for (std::uint32_t lvt : {kLvtCmci, kLvtTimer, kLvtThermal, kLvtPerf, kLvtLint0, kLvtLint1, kLvtError}) {
        CHECK(a.rd(lvt) == kMasked);
    }
    for (std::uint32_t msr : {kTpr, kPpr, kEsr, kIcr, kInitial, kCurrent, kDivide, kTscDeadline}) CHECK(a.rd(msr) == 0);
    for (std::uint32_t i = 0; i < 8; ++i) {
        CHECK(a.rd(kIsr0 + i) == 0);
        CHECK(a.rd(kTmr0 + i) == 0);
        CHECK(a.rd(kIrr0 + i) == 0);
    }
    CHECK_FALSE(a.apic.pending_vector());
    CHECK_FALSE(a.apic.next_deadline());
    CHECK(a.log.str().empty());
}

TEST_CASE("every x2APIC MSR: reserved ones, reads of write-only and writes of read-only ones are #GP") {
    Apic a;
    a.wr(kSvr, kEnabled);
    for (std::uint32_t msr = 0x800; msr <= 0x8ff; ++msr) {
        CAPTURE(msr);
        std::string r = a.read_error(msr);
        if (readable(msr)) {
            CHECK(r == "");
        } else if (msr == kEoi || msr == kSelfIpi) {
            CHECK(r == "lapic: read of a write-only x2APIC register");
        } else {
            CHECK(r == "lapic: reserved x2APIC register");
        }
        if (writable(msr)) continue;
        auto before = a.save();
        std::string w = a.write_error(msr, 0);
        if (readable(msr)) {
            CHECK(w == "lapic: write to a read-only x2APIC register");
        } else {
            CHECK(w == "lapic: reserved x2APIC register");
        }
        CHECK(a.save() == before);
    }
    // The xAPIC-only registers have no x2APIC MSR: APR, RRD, DFR, ICR high.
    for (std::uint32_t msr : {0x809u, 0x80cu, 0x80eu, 0x831u}) {
        CHECK(a.read_error(msr) == "lapic: reserved x2APIC register");
    }
    CHECK(a.read_error(0x900) == "lapic: not a local APIC MSR");
    CHECK(a.write_error(0x7ff, 0) == "lapic: not a local APIC MSR");
    CHECK(LocalApicModel::is_apic_msr(0x1b));
    CHECK(LocalApicModel::is_apic_msr(0x6e0));
    CHECK(LocalApicModel::is_apic_msr(0x800));
    CHECK(LocalApicModel::is_apic_msr(0x8ff));
    CHECK_FALSE(LocalApicModel::is_apic_msr(0x900));
    CHECK_FALSE(LocalApicModel::is_apic_msr(0x7ff));
}

TEST_CASE("writes with reserved bits are #GP and change nothing") {
    Apic a;
    a.wr(kSvr, kEnabled);
    struct Case {
        std::uint32_t msr;
        std::uint64_t value;
        const char* error;
    };
    const char* rsvd = "lapic: reserved bits set in an x2APIC register write";
    const char* lvt = "lapic: reserved LVT bits set";
    const Case cases[] = {
        {kTpr, 0x100, rsvd},
        {kTpr, 1ull << 32, rsvd},
        {kSvr, 0x1ff | (1u << 12), rsvd},  // EOI-broadcast suppression: not offered (version bit 24 clear)
        {kSvr, 0x1ff | (1ull << 40), rsvd},
        {kEoi, 1, "lapic: non-zero write to the EOI register"},
        {kEsr, 1, "lapic: non-zero write to the ESR"},
        {kInitial, 1ull << 32, rsvd},
        {kDivide, 0x4, rsvd},
        {kDivide, 0x10, rsvd},
        {kSelfIpi, 0x100, rsvd},
        {kIcr, 0x30 | (1u << 13), "lapic: reserved ICR bits set"},
        {kIcr, 0x30 | (1u << 16), "lapic: reserved ICR bits set"},
        {kIcr, 0x30 | (1u << 20), "lapic: reserved ICR bits set"},
        {kLvtTimer, 3u << 17, "lapic: reserved timer mode"},
        {kLvtTimer, 0x700, lvt},  // no delivery mode in the timer entry
        {kLvtTimer, 1u << 19, lvt},
        {kLvtError, 0x100, lvt},
        {kLvtError, 1u << 15, lvt},
        {kLvtLint0, 1u << 17, lvt},
        {kLvtCmci, 1u << 13, lvt},
        {kLvtThermal, 1ull << 32, lvt},
        {kLvtPerf, 1u << 15, lvt},
    };
    for (const Case& c : cases) {
        CAPTURE(c.msr);
        CAPTURE(c.value);
        auto before = a.save();
        CHECK(a.write_error(c.msr, c.value) == c.error);
        CHECK(a.save() == before);
    }
    // Read-only bits (delivery status, remote IRR) are ignored, not refused.
    a.wr(kLvtLint0, 0x1f7ff);
    CHECK(a.rd(kLvtLint0) == 0x1a7ff);
    a.wr(kIcr, (1u << 12) | (1ull << 18) | 0x40);  // self IPI with the delivery status bit set
    CHECK(a.rd(kIcr) == ((1ull << 18) | 0x40));
}

TEST_CASE("IA32_APIC_BASE: legal states and transitions, #GP for the rest") {
    Apic a;
    a.wr(kSvr, kEnabled);
    a.wr(kTpr, 0x20);
    a.apic.accept(0x40, false);
    // x2APIC -> xAPIC directly, EXTD without EN, reserved bits: #GP.
    CHECK(a.write_error(kApicBase, 0xfee00900) == "lapic: illegal IA32_APIC_BASE transition");
    CHECK(a.write_error(kApicBase, 0xfee00500) == "lapic: IA32_APIC_BASE with EXTD but not EN");
    for (std::uint64_t bit : {1ull << 0, 1ull << 7, 1ull << 9, 1ull << 39, 1ull << 63}) {
        CHECK(a.write_error(kApicBase, 0xfee00d00 | bit) == "lapic: reserved IA32_APIC_BASE bits set");
    }
    CHECK(a.rd(kApicBase) == 0xfee00d00);
    CHECK(a.rd(kTpr) == 0x20);
    // x2APIC -> disabled: the registers return to their power-up values.
    a.wr(kApicBase, 0xfee00000);
    CHECK(a.rd(kApicBase) == 0xfee00100);  // BSP stays set
    CHECK_FALSE(a.apic.hardware_enabled());
    CHECK(a.read_error(kTpr) == "lapic: x2APIC MSR read outside x2APIC mode");
    CHECK(a.write_error(kTpr, 0) == "lapic: x2APIC MSR write outside x2APIC mode");
    CHECK_FALSE(a.apic.accept(0x50, false));
    CHECK_FALSE(a.apic.pending_vector());
    // disabled -> x2APIC: #GP; disabled -> xAPIC -> x2APIC: fine.
    CHECK(a.write_error(kApicBase, 0xfee00c00) == "lapic: illegal IA32_APIC_BASE transition");
    a.wr(kApicBase, 0xfee00800);
    CHECK(a.log.str().empty());  // xAPIC mode is modelled (the page), nothing to report
    CHECK(a.read_error(kId) == "lapic: x2APIC MSR read outside x2APIC mode");
    a.wr(kApicBase, 0xfee00c00);
    CHECK(a.apic.x2apic_mode());
    CHECK(a.rd(kTpr) == 0);
    CHECK(a.rd(kSvr) == 0xff);
    CHECK(a.rd(kIrr0 + 2) == 0);
    CHECK(a.rd(kLvtTimer) == kMasked);
    // Relocating the (unused) xAPIC page is allowed within MAXPHYADDR.
    a.wr(kApicBase, 0x7ffff000ull | 0xc00);
    CHECK(a.rd(kApicBase) == (0x7ffff000ull | 0xd00));
    Apic wide(LocalApicConfig{1, 46, true});
    wide.wr(kApicBase, (1ull << 45) | 0xc00);
    CHECK(wide.write_error(kApicBase, (1ull << 46) | 0xc00) == "lapic: reserved IA32_APIC_BASE bits set");
}

TEST_CASE("an APIC that leaves reset in xAPIC mode answers MSRs only after switching to x2APIC") {
    Apic a(LocalApicConfig{1, 39, false});
    CHECK(a.rd(kApicBase) == 0xfee00900);
    CHECK(a.read_error(kVersion) == "lapic: x2APIC MSR read outside x2APIC mode");
    a.wr(kApicBase, 0xfee00d00);
    CHECK(a.rd(kVersion) == 0x00060014);
    CHECK(a.log.str().empty());
}

}  // TEST_SUITE

// The xAPIC page (SDM §11.4.1, Table 11-1): what Linux uses when it will not keep x2APIC mode.
TEST_CASE("xAPIC page: registers, EOI, the TSC-deadline timer, self-IPIs; silent outside xAPIC mode") {
    Apic a(LocalApicConfig{.tsc_per_apic_tick = 1, .physical_address_bits = 39, .x2apic_at_reset = false});
    LocalApicModel& apic = a.apic;
    REQUIRE(apic.hardware_enabled());
    REQUIRE_FALSE(apic.x2apic_mode());
    CHECK(apic.mmio_read(0x20, 4) == 0);                        // APIC id 0
    CHECK(apic.mmio_read(0x30, 4) == LocalApicModel::kVersion);
    CHECK(apic.mmio_read(0x30, 2) == 0);                        // not a 32-bit access: nothing
    CHECK(apic.mmio_read(0x34, 4) == 0);                        // not on a 16-byte boundary
    CHECK(apic.mmio_read(0xe0, 4) == 0xffffffff);               // DFR: flat model
    apic.mmio_write(0xd0, 4, 0x01000000);                       // LDR: logical id bit 0
    CHECK(apic.mmio_read(0xd0, 4) == 0x01000000);
    apic.mmio_write(0xf0, 4, 0x1ff);                            // SVR: enabled
    CHECK(apic.software_enabled());
    apic.mmio_write(0x80, 4, 0x20);                             // TPR
    CHECK(apic.mmio_read(0x80, 4) == 0x20);
    apic.mmio_write(0x80, 4, 0);

    // The deadline timer: LVT through the page, the deadline through its MSR.
    apic.mmio_write(0x320, 4, kDeadlineMode | 0xec);
    CHECK(apic.mmio_read(0x320, 4) == (kDeadlineMode | 0xec));
    a.clock.tsc = 1000;
    a.wr(kTscDeadline, 1500);
    CHECK(apic.next_deadline() == 1500u);
    a.clock.tsc = 1500;
    apic.advance(a.clock.tsc);
    CHECK(apic.pending_vector() == 0xec);
    CHECK(apic.acknowledge() == 0xec);
    CHECK(apic.mmio_read(0x100 + 0x70, 4) == (1u << 12));       // ISR word 7: vector 0xec
    apic.mmio_write(0xb0, 4, 0);                                // EOI
    CHECK(apic.mmio_read(0x170, 4) == 0);

    // A self-IPI through the ICR: physical destination 0 (ICR high), and the "self" shorthand.
    apic.mmio_write(0x310, 4, 0);
    apic.mmio_write(0x300, 4, 0x41);
    CHECK(apic.pending_vector() == 0x41);
    (void)apic.acknowledge();
    apic.mmio_write(0xb0, 4, 0);
    apic.mmio_write(0x300, 4, (1u << 18) | 0x42);
    CHECK(apic.pending_vector() == 0x42);
    (void)apic.acknowledge();
    apic.mmio_write(0xb0, 4, 0);
    // Logical destination naming another APIC: nobody; naming this one (LDR bit 0): delivered.
    apic.mmio_write(0x310, 4, 0x02000000);
    apic.mmio_write(0x300, 4, (1u << 11) | 0x43);
    CHECK_FALSE(apic.pending_vector());
    apic.mmio_write(0x310, 4, 0x01000000);
    apic.mmio_write(0x300, 4, (1u << 11) | 0x44);
    CHECK(apic.pending_vector() == 0x44);

    // Reserved bits are ignored, never a fault; the saved state carries the xAPIC registers.
    apic.mmio_write(0x350, 4, 0xffffffff);                      // LINT0: only its writable bits stay
    CHECK(apic.mmio_read(0x350, 4) == 0x1f7ffu - (1u << 12) - (1u << 14));
    Apic b(LocalApicConfig{.tsc_per_apic_tick = 1, .physical_address_bits = 39, .x2apic_at_reset = false});
    REQUIRE(status_message(b.apic.restore_state(2, a.save())) == "");
    CHECK(b.apic.mmio_read(0xd0, 4) == 0x01000000);
    CHECK(b.apic.mmio_read(0x310, 4) == 0x01000000);

    // In x2APIC mode the page is silent: reads 0, writes change nothing.
    a.wr(kApicBase, 0xfee00c00);
    CHECK(apic.mmio_read(0x30, 4) == 0);
    apic.mmio_write(0x80, 4, 0x30);
    CHECK(a.rd(kTpr) == 0);
}
