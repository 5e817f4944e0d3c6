// The guest's local APIC in x2APIC mode (hypervisor/devices/local_apic_model.hpp): the MSR
// interface and every access it refuses with #GP (Intel SDM Vol. 3A §11.12.1), IA32_APIC_BASE
// states and transitions (§11.12.5), interrupt acceptance, priority and EOI (§11.8), self-IPIs,
// the timer in its three modes (§11.5.4) on a guest TSC, and the state in checkpoints; last, the
// stable ids and state sizes of all the interrupt and timer models together.
#include <doctest/doctest.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "device_fakes.hpp"
#include "helpers.hpp"
#include "hypervisor/devices/cmos_rtc_model.hpp"
#include "hypervisor/devices/ioapic_model.hpp"
#include "hypervisor/devices/local_apic_model.hpp"
#include "hypervisor/devices/pic8259_model.hpp"
#include "hypervisor/devices/pit8254_model.hpp"
#include "hypervisor/devices/virtio/virtio_net.hpp"
#include "replication/checkpoint/backup_image.hpp"
#include "replication/checkpoint/record_format.hpp"

using tandem::LocalApicConfig;
using tandem::LocalApicModel;
using test::status_message;

namespace {

constexpr std::uint32_t kApicBase = 0x1b, kTscDeadline = 0x6e0;
constexpr std::uint32_t kId = 0x802, kVersion = 0x803, kTpr = 0x808, kPpr = 0x80a, kEoi = 0x80b, kLdr = 0x80d,
                        kSvr = 0x80f, kIsr0 = 0x810, kTmr0 = 0x818, kIrr0 = 0x820, kEsr = 0x828, kLvtCmci = 0x82f,
                        kIcr = 0x830, kLvtTimer = 0x832, kLvtThermal = 0x833, kLvtPerf = 0x834, kLvtLint0 = 0x835,
                        kLvtLint1 = 0x836, kLvtError = 0x837, kInitial = 0x838, kCurrent = 0x839, kDivide = 0x83e,
                        kSelfIpi = 0x83f;
constexpr std::uint64_t kEnabled = 0x1ff;  // SVR: APIC enabled, spurious vector 0xff
constexpr std::uint32_t kOneShot = 0, kPeriodic = 1u << 17, kDeadlineMode = 2u << 17, kMasked = 1u << 16;

struct Apic {
    explicit Apic(LocalApicConfig config = {}) : apic(clock, log, config) { apic.set_eoi_listener(&eoi); }

    std::uint64_t rd(std::uint32_t msr) {
        auto r = apic.read_msr(msr);
        CAPTURE(msr);
        REQUIRE(r.ok());
        return *r;
    }
    void wr(std::uint32_t msr, std::uint64_t value) {
        CAPTURE(msr);
        CAPTURE(value);
        REQUIRE(status_message(apic.write_msr(msr, value)) == "");
    }
    std::string read_error(std::uint32_t msr) {
        auto r = apic.read_msr(msr);
        return r ? std::string() : std::string(r.error().message);
    }
    std::string write_error(std::uint32_t msr, std::uint64_t value) {
        return status_message(apic.write_msr(msr, value));
    }
    std::vector<std::uint8_t> save() const { return test::saved_state(apic); }
    std::vector<std::uint64_t> registers() {
        std::vector<std::uint64_t> r;
        for (std::uint32_t msr = 0x800; msr <= 0x8ff; ++msr) {
            auto v = apic.read_msr(msr);
            r.push_back(v ? *v : 0xdead);
        }
        r.push_back(rd(kApicBase));
        r.push_back(rd(kTscDeadline));
        return r;
    }
    // Software-enables the APIC with the timer on `vector` in `mode`.
    void enable_timer(std::uint32_t mode, std::uint8_t vector = 0xec) {
        wr(kSvr, kEnabled);
        wr(kLvtTimer, mode | vector);
    }

    test::FakeClock clock;
    test::StringWriter log;
    test::RecordingEoi eoi;
    LocalApicModel apic;
};

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

TEST_CASE("interrupts: IRR, TPR and ISR priority, acknowledge, EOI") {
    Apic a;
    a.wr(kSvr, kEnabled);
    CHECK(a.apic.accept(0x31, false));
    CHECK(a.apic.accept(0x62, false));
    CHECK(a.apic.accept(0x45, false));
    CHECK(a.rd(kIrr0 + 1) == (1u << 17));
    CHECK(a.rd(kIrr0 + 2) == (1u << 5));
    CHECK(a.rd(kIrr0 + 3) == (1u << 2));
    CHECK(*a.apic.pending_vector() == 0x62);
    // TPR masks priority classes up to its own.
    a.wr(kTpr, 0x60);
    CHECK_FALSE(a.apic.pending_vector());
    CHECK_FALSE(a.apic.acknowledge());
    CHECK(a.rd(kPpr) == 0x60);
    a.wr(kTpr, 0x5f);
    CHECK(*a.apic.pending_vector() == 0x62);
    a.wr(kTpr, 0);
    CHECK(*a.apic.acknowledge() == 0x62);
    CHECK(a.rd(kIsr0 + 3) == (1u << 2));
    CHECK(a.rd(kIrr0 + 3) == 0);
    CHECK(a.rd(kPpr) == 0x60);
    // Lower classes wait for the EOI; a higher one may nest.
    CHECK_FALSE(a.apic.pending_vector());
    CHECK(a.apic.accept(0x6f, false));
    CHECK_FALSE(a.apic.pending_vector());  // same class as the one in service
    CHECK(a.apic.accept(0x80, false));
    CHECK(*a.apic.acknowledge() == 0x80);
    CHECK(a.rd(kPpr) == 0x80);
    a.wr(kEoi, 0);  // ends 0x80, the highest in service
    CHECK(a.rd(kIsr0 + 4) == 0);
    CHECK(a.rd(kPpr) == 0x60);
    a.wr(kEoi, 0);
    CHECK(a.rd(kPpr) == 0);
    CHECK(*a.apic.acknowledge() == 0x6f);
    a.wr(kEoi, 0);
    CHECK(*a.apic.acknowledge() == 0x45);
    a.wr(kEoi, 0);
    CHECK(*a.apic.acknowledge() == 0x31);
    a.wr(kEoi, 0);
    a.wr(kEoi, 0);  // nothing in service: no effect
    CHECK_FALSE(a.apic.pending_vector());
    // An interrupt already pending coalesces.
    a.apic.accept(0x50, false);
    a.apic.accept(0x50, false);
    CHECK(*a.apic.acknowledge() == 0x50);
    CHECK_FALSE(a.apic.pending_vector());
    CHECK(a.apic.stats().accepted == 7);
    CHECK(a.eoi.vectors.empty());  // all edge-triggered
}

TEST_CASE("level-triggered vectors set TMR and broadcast their EOI; edge ones do not") {
    Apic a;
    a.wr(kSvr, kEnabled);
    a.apic.accept(0x41, true);
    a.apic.accept(0x52, false);
    CHECK(a.rd(kTmr0 + 2) == (1u << 1));
    CHECK(*a.apic.acknowledge() == 0x52);
    CHECK_FALSE(a.apic.acknowledge());  // 0x41 waits: a higher class is in service
    a.wr(kEoi, 0);
    CHECK(a.eoi.vectors.empty());
    CHECK(*a.apic.acknowledge() == 0x41);
    a.wr(kEoi, 0);
    CHECK(a.eoi.vectors == std::vector<std::uint8_t>{0x41});
    CHECK(a.apic.stats().eoi_broadcasts == 1);
    // The same vector arriving edge-triggered clears its TMR bit again.
    a.apic.accept(0x41, false);
    CHECK(a.rd(kTmr0 + 2) == 0);
    CHECK(*a.apic.acknowledge() == 0x41);
    a.wr(kEoi, 0);
    CHECK(a.eoi.vectors.size() == 1);
}

TEST_CASE("software-disabled: fixed interrupts are dropped and every LVT stays masked") {
    Apic a;
    CHECK_FALSE(a.apic.accept(0x40, false));
    CHECK(a.apic.stats().dropped_disabled == 1);
    a.wr(kLvtTimer, 0xec);
    CHECK(a.rd(kLvtTimer) == (kMasked | 0xec));  // the mask cannot be cleared while disabled
    a.wr(kSvr, kEnabled);
    a.wr(kLvtTimer, 0xec);
    a.wr(kLvtError, 0xfe);
    CHECK(a.rd(kLvtTimer) == 0xec);
    CHECK(a.apic.accept(0x40, false));
    a.wr(kSvr, 0xff);  // software-disable again: every LVT is masked, pending IRR bits stay
    CHECK(a.rd(kLvtTimer) == (kMasked | 0xec));
    CHECK(a.rd(kLvtError) == (kMasked | 0xfe));
    CHECK(*a.apic.pending_vector() == 0x40);
}

TEST_CASE("illegal vectors 0-15 are refused and recorded in the ESR, with the error interrupt") {
    Apic a;
    a.wr(kSvr, kEnabled);
    a.wr(kLvtError, 0xfe);
    CHECK_FALSE(a.apic.accept(7, false));
    CHECK(a.rd(kEsr) == 0);  // the ESR shows errors only after a write latches them
    a.wr(kEsr, 0);
    CHECK(a.rd(kEsr) == 0x40);  // receive illegal vector
    CHECK(*a.apic.acknowledge() == 0xfe);
    a.wr(kEoi, 0);
    a.wr(kSelfIpi, 3);
    a.wr(kEsr, 0);
    CHECK(a.rd(kEsr) == 0x20);  // send illegal vector
    a.wr(kEsr, 0);
    CHECK(a.rd(kEsr) == 0);
    CHECK(a.apic.stats().illegal_vectors == 2);
    // A timer with an illegal vector reports the error instead of interrupting.
    a.wr(kLvtTimer, 0x0f);
    a.wr(kInitial, 1);
    a.clock.tsc = 100;
    a.apic.advance(100);
    a.wr(kEsr, 0);
    CHECK(a.rd(kEsr) == 0x40);
}

TEST_CASE("self-IPIs through SELF_IPI and the ICR; other destinations and modes are dropped and reported once") {
    Apic a;
    a.wr(kSvr, kEnabled);
    a.wr(kSelfIpi, 0x61);
    CHECK(*a.apic.acknowledge() == 0x61);
    a.wr(kEoi, 0);
    struct Ipi {
        std::uint64_t icr;
        bool reaches_self;
    };
    const Ipi ipis[] = {
        {(1ull << 18) | 0x70, true},                        // shorthand self
        {(2ull << 18) | 0x71, true},                        // all including self
        {(3ull << 18) | 0x72, false},                       // all excluding self
        {0x73, true},                                       // physical destination 0
        {(0xffffffffull << 32) | 0x74, true},               // physical broadcast
        {(1ull << 32) | 0x75, false},                       // physical APIC 1
        {(1ull << 11) | (1ull << 32) | 0x76, true},         // logical: cluster 0, bit 0
        {(1ull << 11) | (3ull << 32) | 0x77, true},         // logical: APIC 0 and another
        {(1ull << 11) | (2ull << 32) | 0x78, false},        // logical: cluster 0, bit 1
        {(1ull << 11) | (0x10001ull << 32) | 0x79, false},  // logical: cluster 1
        {0x100 | 0x7a, true},                               // lowest priority, destination 0
    };
    for (const Ipi& ipi : ipis) {
        CAPTURE(ipi.icr);
        a.wr(kIcr, ipi.icr);
        CHECK(a.rd(kIcr) == ipi.icr);
        auto v = a.apic.acknowledge();
        CHECK(v.has_value() == ipi.reaches_self);
        if (v) {
            CHECK(*v == (ipi.icr & 0xff));
            a.wr(kEoi, 0);
        }
    }
    CHECK(a.log.str() == "vm: lapic: IPI to another CPU (ICR 0xc0072) dropped: the guest has a single CPU, APIC 0\n");
    a.log.clear();
    a.wr(kIcr, (1ull << 18) | 0x400);  // NMI to self
    a.wr(kIcr, (1ull << 18) | 0x500);  // INIT
    a.wr(kIcr, (5ull << 32) | 0x600);  // SIPI to APIC 5
    CHECK_FALSE(a.apic.pending_vector());
    CHECK(a.log.str() == "vm: lapic: IPI to itself with a delivery mode tandem does not model (ICR 0x40400) dropped\n");
    CHECK(a.apic.stats().self_ipis == 8);
    CHECK(a.apic.stats().ipis_dropped == 7);
}

TEST_CASE("timer, one-shot: counts down at TSC / (tsc_per_apic_tick * divisor) and fires once") {
    Apic a(LocalApicConfig{4, 39, true});
    a.enable_timer(kOneShot);
    a.clock.tsc = 1000;
    a.wr(kDivide, 0);  // divide by 2: one count every 8 TSC cycles
    a.wr(kInitial, 100);
    CHECK(a.rd(kInitial) == 100);
    CHECK(a.rd(kCurrent) == 100);
    CHECK(*a.apic.next_deadline() == 1800);
    a.clock.tsc = 1007;
    CHECK(a.rd(kCurrent) == 100);
    a.clock.tsc = 1008;
    CHECK(a.rd(kCurrent) == 99);
    a.clock.tsc = 1799;
    CHECK(a.rd(kCurrent) == 1);
    a.apic.advance(1799);
    CHECK_FALSE(a.apic.pending_vector());
    a.apic.advance(1800);
    CHECK(*a.apic.pending_vector() == 0xec);
    CHECK_FALSE(a.apic.next_deadline());
    a.clock.tsc = 5000;
    CHECK(a.rd(kCurrent) == 0);
    CHECK(a.rd(kInitial) == 100);
    CHECK(a.apic.stats().timer_expiries == 1);
    a.apic.advance(1000000);
    CHECK(a.apic.stats().timer_expiries == 1);
    // Writing 0 stops a running count.
    a.wr(kInitial, 10);
    CHECK(a.apic.next_deadline().has_value());
    a.wr(kInitial, 0);
    CHECK_FALSE(a.apic.next_deadline());
    CHECK(a.rd(kCurrent) == 0);
}

TEST_CASE("timer: the eight divide configurations") {
    const std::pair<std::uint32_t, std::uint64_t> divides[] = {{0x0, 2},  {0x1, 4},  {0x2, 8},  {0x3, 16},
                                                               {0x8, 32}, {0x9, 64}, {0xa, 128}, {0xb, 1}};
    for (const auto& [dcr_value, divisor_value] : divides) {
        std::uint32_t dcr = dcr_value;
        std::uint64_t divisor = divisor_value;
        CAPTURE(dcr);
        Apic a(LocalApicConfig{3, 39, true});
        a.enable_timer(kOneShot);
        a.wr(kDivide, dcr);
        CHECK(a.rd(kDivide) == dcr);
        a.wr(kInitial, 1000);
        CHECK(*a.apic.next_deadline() == 1000 * 3 * divisor);
    }
}

TEST_CASE("timer, periodic: fires every period from the start; missed periods fire once") {
    Apic a;  // one count per 2 TSC cycles (tsc_per_apic_tick 1, divide by 2)
    a.enable_timer(kPeriodic, 0xef);
    a.clock.tsc = 10;
    a.wr(kInitial, 50);  // period 100
    for (std::uint64_t k = 1; k <= 3; ++k) {
        CAPTURE(k);
        CHECK(*a.apic.next_deadline() == 10 + 100 * k);
        a.apic.advance(10 + 100 * k - 1);
        CHECK_FALSE(a.apic.pending_vector());
        a.apic.advance(10 + 100 * k);
        CHECK(*a.apic.acknowledge() == 0xef);
        a.wr(kEoi, 0);
    }
    a.clock.tsc = 10 + 300 + 2;
    CHECK(a.rd(kCurrent) == 49);
    // Ten periods later: one interrupt, the next deadline after now, the count still in phase.
    a.apic.advance(10 + 1350);
    CHECK(*a.apic.acknowledge() == 0xef);
    CHECK_FALSE(a.apic.pending_vector());
    CHECK(*a.apic.next_deadline() == 10 + 1400);
    a.clock.tsc = 10 + 1350;
    CHECK(a.rd(kCurrent) == 25);
    CHECK(a.apic.stats().timer_expiries == 4);
    // Periodic -> one-shot: the running count finishes and stops.
    a.wr(kLvtTimer, kOneShot | 0xef);
    a.apic.advance(10 + 1400);
    CHECK_FALSE(a.apic.next_deadline());
}

TEST_CASE("timer: a new divide configuration keeps the count and changes the rate") {
    Apic a;
    a.enable_timer(kOneShot);
    a.wr(kDivide, 0xb);  // divide by 1
    a.wr(kInitial, 1000);
    a.clock.tsc = 400;
    CHECK(a.rd(kCurrent) == 600);
    a.wr(kDivide, 0x3);  // by 16: 600 counts left, 9600 cycles
    CHECK(a.rd(kCurrent) == 600);
    CHECK(*a.apic.next_deadline() == 400 + 9600);
    a.clock.tsc = 400 + 160;
    CHECK(a.rd(kCurrent) == 590);
}

TEST_CASE("timer, TSC-deadline: IA32_TSC_DEADLINE arms, fires at the deadline and reads 0 after") {
    Apic a;
    // Outside TSC-deadline mode the MSR ignores writes and reads 0.
    a.wr(kTscDeadline, 5000);
    CHECK(a.rd(kTscDeadline) == 0);
    a.enable_timer(kDeadlineMode, 0xec);
    a.wr(kTscDeadline, 5000);
    CHECK(a.rd(kTscDeadline) == 5000);
    CHECK(*a.apic.next_deadline() == 5000);
    a.wr(kInitial, 77);  // ignored in this mode
    CHECK(a.rd(kInitial) == 0);
    CHECK(a.rd(kCurrent) == 0);
    a.apic.advance(4999);
    CHECK_FALSE(a.apic.pending_vector());
    a.apic.advance(5000);
    CHECK(*a.apic.acknowledge() == 0xec);
    a.wr(kEoi, 0);
    CHECK(a.rd(kTscDeadline) == 0);
    CHECK_FALSE(a.apic.next_deadline());
    // A deadline in the past fires at once; 0 disarms.
    a.clock.tsc = 9000;
    a.wr(kTscDeadline, 8000);
    CHECK(*a.apic.acknowledge() == 0xec);
    a.wr(kEoi, 0);
    a.wr(kTscDeadline, 20000);
    a.wr(kTscDeadline, 0);
    CHECK_FALSE(a.apic.next_deadline());
    // Leaving TSC-deadline mode disarms, and so does entering it.
    a.wr(kTscDeadline, 20000);
    a.wr(kLvtTimer, kOneShot | 0xec);
    CHECK(a.rd(kTscDeadline) == 0);
    CHECK_FALSE(a.apic.next_deadline());
    a.wr(kInitial, 10);
    a.wr(kLvtTimer, kDeadlineMode | 0xec);
    CHECK(a.rd(kInitial) == 0);
    CHECK_FALSE(a.apic.next_deadline());
    a.apic.advance(1u << 30);
    CHECK_FALSE(a.apic.pending_vector());
}

TEST_CASE("timer: a masked timer asks for no deadline and interrupts nobody, but still runs out") {
    Apic a;
    a.enable_timer(kDeadlineMode | kMasked);
    a.wr(kTscDeadline, 100);
    CHECK_FALSE(a.apic.next_deadline());
    a.clock.tsc = 200;
    CHECK(a.rd(kTscDeadline) == 0);  // expired while masked
    CHECK_FALSE(a.apic.pending_vector());
    a.wr(kLvtTimer, kOneShot | kMasked | 0xec);
    a.wr(kInitial, 10);
    a.clock.tsc = 1000;
    CHECK(a.rd(kCurrent) == 0);
    a.wr(kLvtTimer, kOneShot | 0xec);  // unmasking later does not bring the expiry back
    CHECK_FALSE(a.apic.pending_vector());
    CHECK(a.apic.stats().timer_expiries == 2);
}

TEST_CASE("device state: identity, and a restored APIC continues exactly where the saved one was") {
    Apic a(LocalApicConfig{2, 39, true});
    CHECK(a.apic.state_id() == tandem::kDeviceIdLocalApic0);
    CHECK(a.apic.state_version() == 2);
    CHECK(std::string(a.apic.state_name()) == "lapic0");
    a.enable_timer(kPeriodic, 0xe0);
    a.wr(kLvtError, kMasked | 0xfe);
    a.wr(kLvtLint0, 0x700);
    a.wr(kTpr, 0x10);
    a.wr(kDivide, 0x1);
    a.clock.tsc = 12345;
    a.wr(kInitial, 3000);  // period 24000 cycles
    a.apic.accept(0x33, true);
    a.apic.accept(0x90, false);
    CHECK(*a.apic.acknowledge() == 0x90);
    a.wr(kSelfIpi, 0x21);
    a.wr(kIcr, (1ull << 18) | 0x55);
    a.wr(kSelfIpi, 2);  // an ESR error, pending
    a.clock.tsc = 20000;
    auto saved = a.save();
    CHECK(saved.size() <= 1024);
    auto registers = a.registers();
    // Acknowledges and ends everything pending, in order.
    auto drain = [](Apic& x) {
        std::vector<int> order;
        while (auto v = x.apic.acknowledge()) {
            order.push_back(*v);
            x.wr(kEoi, 0);
        }
        x.wr(kEoi, 0);  // and the 0x90 that was in service before
        while (auto v = x.apic.acknowledge()) {
            order.push_back(*v);
            x.wr(kEoi, 0);
        }
        return order;
    };
    for (int round = 0; round < 3; ++round) {
        CAPTURE(round);
        Apic b(LocalApicConfig{2, 39, true});
        b.clock.tsc = 20000;
        b.wr(kSvr, kEnabled);  // something different first
        b.wr(kSelfIpi, 0x99);
        REQUIRE(status_message(b.apic.restore_state(2, saved)) == "");
        CHECK(b.save() == saved);
        CHECK(b.registers() == registers);
        CHECK(b.apic.next_deadline() == a.apic.next_deadline());
        CHECK(*b.apic.next_deadline() == 12345 + 24000);
        CHECK(b.apic.pending_vector() == a.apic.pending_vector());
        // Both fire at the same TSC and then behave alike.
        for (Apic* x : {&a, &b}) {
            x->apic.advance(12345 + 23999);
            CHECK((x->rd(kIrr0 + 7) & 1) == 0);
            x->apic.advance(12345 + 24000);
            CHECK(x->rd(kIrr0 + 7) == 1);
        }
        CHECK(b.registers() == a.registers());
        auto order = drain(b);
        CHECK(order == drain(a));
        CHECK(order == std::vector<int>{0xe0, 0x55, 0x33, 0x21});
        CHECK(b.eoi.vectors == std::vector<std::uint8_t>{0x33});
        CHECK(b.registers() == a.registers());
        // Put a back to the saved state for the next round: restore works on a used model too.
        REQUIRE(status_message(a.apic.restore_state(2, saved)) == "");
        a.eoi.vectors.clear();
    }
    // The error that was pending is latched by the next ESR write, as in the saved APIC.
    Apic c(LocalApicConfig{2, 39, true});
    REQUIRE(status_message(c.apic.restore_state(2, saved)) == "");
    c.wr(kEsr, 0);
    CHECK(c.rd(kEsr) == 0x20);
}

TEST_CASE("device state: malformed APIC states are refused and change nothing") {
    Apic a;
    a.enable_timer(kOneShot);
    a.wr(kInitial, 500);
    auto good = a.save();
    Apic target;
    target.wr(kSvr, kEnabled);
    target.wr(kSelfIpi, 0x44);
    test::check_malformed_states_refused(target.apic, good, 2);
    auto refused = [&](std::size_t offset, std::vector<std::uint8_t> bytes, const char* message) {
        CAPTURE(offset);
        auto bad = good;
        for (std::size_t i = 0; i < bytes.size(); ++i) bad[offset + i] = bytes[i];
        Apic t;
        auto before = t.save();
        CHECK(status_message(t.apic.restore_state(2, bad)) == message);
        CHECK(t.save() == before);
    };
    // Layout: tsc_per_tick 0, apic_base 8, tpr 16, svr 17, esr 21, esr_pending 25, icr 29,
    // lvt 37 (7 x 4: cmci, timer, ...), irr 65, isr 97, tmr 129, timer 161.
    refused(0, {0, 0, 0, 0, 0, 0, 0, 0}, "lapic0: bad APIC timer clock (tsc_per_apic_tick) in state");
    refused(0, {0, 0, 0, 0x02}, "lapic0: bad APIC timer clock (tsc_per_apic_tick) in state");  // 2^25: above 2^24
    refused(8, {0x00, 0x05}, "lapic0: bad IA32_APIC_BASE in state");  // EXTD without EN
    refused(9, {0x02}, "lapic0: bad IA32_APIC_BASE in state");         // bit 9 reserved
    refused(8, {0x00, 0x0c}, "lapic0: bad IA32_APIC_BASE in state");   // BSP clear
    refused(18, {0x10}, "lapic0: reserved register bits set in state");
    refused(21, {0x01}, "lapic0: reserved register bits set in state");
    refused(30, {0x10}, "lapic0: reserved register bits set in state");  // ICR delivery status
    refused(37 + 4 * 6, {0x00, 0x08}, "lapic0: bad LVT entry in state");  // error LVT bit 11
    refused(37 + 4 * 1 + 2, {0x06}, "lapic0: LVT timer mode and timer state disagree");  // timer mode 3
    refused(37 + 4 * 1 + 2, {0x04}, "lapic0: LVT timer mode and timer state disagree");
    refused(17, {0xff, 0x00}, "lapic0: bad LVT entry in state");        // software-disabled, timer unmasked
    refused(65, {0x01}, "lapic0: vectors 0-15 set in state");
    refused(161, {3}, "lapic0: bad timer mode in state");
    refused(162, {4}, "lapic0: bad divide configuration in state");
    refused(167, {2}, "lapic0: bad timer flag in state");
    refused(176, {0xf5, 0x01}, "lapic0: inconsistent timer count in state");  // anchor count 501 > initial 500
    refused(180, {1}, "lapic0: timer state mixes TSC-deadline and counting modes");
    Apic stopped;
    auto idle = stopped.save();
    idle[168] = 1;  // a stopped timer with an anchor
    CHECK(status_message(stopped.apic.restore_state(2, idle)) == "lapic0: stopped timer with a count in state");
}

// Every model of the guest's world next to each other: distinct stable ids, states that fit a
// checkpoint's device record, and room in the backup for all of them.

TEST_CASE("device state: the interrupt and timer models have distinct ids and fit a checkpoint record") {
    test::FakeClock clock;
    test::StringWriter log;
    test::RecordingIrqLines lines;
    LocalApicModel lapic(clock, log);
    tandem::IoApicModel ioapic(lapic, log);
    tandem::Pic8259Model pic(log);
    tandem::Pit8254Model pit(clock, lines, 2'000'000'000);
    tandem::CmosRtcModel rtc(clock, lines, tandem::CmosRtcConfig{2'000'000'000, 1'700'000'000, 0});
    const tandem::StatefulDevice* devices[] = {&lapic, &ioapic, &pic, &pit, &rtc};
    std::set<std::uint16_t> ids = {tandem::kDeviceIdUart0, tandem::virtio::VirtioMmioNet::kDeviceIdVirtioNet0};
    std::set<std::string> names = {"uart0", "virtio-net0"};
    for (const tandem::StatefulDevice* d : devices) {
        CAPTURE(d->state_name());
        CHECK(ids.insert(d->state_id()).second);
        CHECK(names.insert(d->state_name()).second);
        CHECK(test::saved_state(*d).size() + 4 <= tandem::checkpoint::kDeviceStateMaxPayload);
    }
    CHECK(ids.size() <= tandem::checkpoint::BackupImage::kMaxDevices);
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
