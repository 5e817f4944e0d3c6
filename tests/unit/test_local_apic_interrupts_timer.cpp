// The guest's local APIC (hypervisor/devices/local_apic_model.hpp), its interrupts: acceptance,
// priority and EOI (Intel SDM Vol. 3A §11.8), level-triggered EOI broadcasts, illegal vectors and
// the ESR, self-IPIs; and the timer in its three modes (§11.5.4) on a guest TSC.
#include <doctest/doctest.h>

#include <cstdint>
#include <utility>
#include <vector>

#include "device_fakes.hpp"
#include "helpers.hpp"
#include "hypervisor/devices/local_apic_model.hpp"
#include "local_apic_fixture.hpp"

using tandem::LocalApicConfig;
using tandem::LocalApicModel;
using test::status_message;
using namespace lapic_test;

TEST_SUITE("local_apic") {

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

}  // TEST_SUITE

TEST_CASE("describe: IRR and ISR highest vectors, TPR, PPR and the timer, for the vCPU's diagnostics") {
    Apic a;
    a.enable_timer(kDeadlineMode);
    a.wr(kTpr, 0x20);
    test::StringWriter out;
    a.apic.describe(out, 0);
    CHECK(out.str() == "lapic: enabled, IRR highest empty, ISR highest empty, TPR 0x20, PPR 0x20, timer LVT 0x000400ec "
                      "(TSC deadline), timer count 0");
    a.apic.accept(0xec, false);
    a.apic.accept(0x41, false);
    REQUIRE(a.apic.acknowledge() == 0xec);
    test::StringWriter later;
    a.apic.describe(later, 0);
    CHECK(later.str() == "lapic: enabled, IRR highest 0x41, ISR highest 0xec, TPR 0x20, PPR 0xe0, timer LVT 0x000400ec "
                        "(TSC deadline), timer count 0");
}
