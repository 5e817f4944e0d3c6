// The guest's 8254 PIT (hypervisor/devices/pit8254_model.hpp, pit_counter.hpp): Linux's TSC
// calibration on counter 2 through port 0x61, counter 0's interrupts on IOAPIC pin 2 with
// next_deadline() in guest TSC, modes 0-5 after the 8254 data sheet, the latch and read-back
// commands, byte access modes and BCD, and the state in checkpoints.
#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

#include "device_fakes.hpp"
#include "helpers.hpp"
#include "hypervisor/devices/pit8254_model.hpp"
#include "hypervisor/util/mul_div.hpp"

using tandem::Pit8254Model;
using test::status_message;

namespace {

constexpr std::uint64_t kTscPerTick = 10;  // most cases: a guest TSC of exactly 10 x 1.193182 MHz

struct Pit {
    explicit Pit(std::uint64_t tsc_hz = Pit8254Model::kFrequencyHz * kTscPerTick) : pit(clock, irq, tsc_hz) {}

    void at_tick(std::uint64_t tick) { clock.tsc = tick * kTscPerTick; }
    std::uint32_t in(std::uint16_t port) { return pit.read(port, 1); }
    void out(std::uint16_t port, std::uint32_t value) { pit.write(port, 1, value); }
    // Counter i in access mode lo/hi: one word from two reads.
    std::uint32_t read_word(unsigned i) {
        std::uint32_t lo = in(static_cast<std::uint16_t>(0x40 + i));
        return lo | (in(static_cast<std::uint16_t>(0x40 + i)) << 8);
    }
    std::uint32_t latched_word(unsigned i) {
        out(0x43, i << 6);
        return read_word(i);
    }
    void program(unsigned i, unsigned mode, std::uint32_t count) {
        out(0x43, (i << 6) | 0x30 | (mode << 1));
        out(static_cast<std::uint16_t>(0x40 + i), count & 0xff);
        out(static_cast<std::uint16_t>(0x40 + i), (count >> 8) & 0xff);
    }
    bool out2() { return (in(0x61) & 0x20) != 0; }
    std::vector<std::uint8_t> save() const { return test::saved_state(pit); }

    test::FakeClock clock;
    test::RecordingIrqLines irq;
    Pit8254Model pit;
};

}  // namespace

TEST_SUITE("pit8254") {

TEST_CASE("clock conversions: a * b / c exact in 128 bits, without overflow") {
    using tandem::mul_div;
    using tandem::mul_div_ceil;
    std::mt19937_64 rng(7);
    for (int i = 0; i < 20000; ++i) {
        std::uint64_t a = rng(), b = rng() >> (rng() % 64), c = (rng() >> (rng() % 64)) | 1;
        unsigned __int128 q = static_cast<unsigned __int128>(a) * b / c;
        unsigned __int128 r = static_cast<unsigned __int128>(a) * b % c;
        std::uint64_t expected = q > ~0ull ? ~0ull : static_cast<std::uint64_t>(q);
        CAPTURE(a);
        CAPTURE(b);
        CAPTURE(c);
        REQUIRE(mul_div(a, b, c) == expected);
        std::uint64_t expected_ceil = q >= ~0ull ? ~0ull : static_cast<std::uint64_t>(q + (r != 0 ? 1 : 0));
        REQUIRE(mul_div_ceil(a, b, c) == expected_ceil);
    }
    CHECK(mul_div(5, 7, 0) == ~0ull);
    CHECK(tandem::saturating_add(~0ull - 1, 5) == ~0ull);
}

TEST_CASE("Linux's pit_calibrate_tsc: counter 2, mode 0, gate through 0x61, OUT2 polled in 0x61 bit 5") {
    Pit p;
    p.at_tick(1000);
    p.out(0x61, (p.in(0x61) & ~0x02u) | 0x01);  // gate high, speaker off
    p.out(0x43, 0xb0);                            // counter 2, LSB then MSB, mode 0, binary
    constexpr std::uint32_t kLatch = 11931;       // 10 ms
    p.out(0x42, kLatch & 0xff);
    p.out(0x42, kLatch >> 8);
    CHECK_FALSE(p.out2());
    p.at_tick(1000 + 1 + 100);
    CHECK(p.latched_word(2) == kLatch - 100);
    p.at_tick(1000 + kLatch);
    CHECK_FALSE(p.out2());
    CHECK(p.latched_word(2) == 1);
    p.at_tick(1000 + kLatch + 1);  // the count reaches 0 N + 1 clocks after it was written
    CHECK(p.out2());
    CHECK(p.latched_word(2) == 0);
    p.at_tick(1000 + kLatch + 3);
    CHECK(p.out2());
    CHECK(p.latched_word(2) == 0xfffe);  // mode 0 counts on, wrapping
    CHECK(p.irq.changes.empty());        // counter 2 has no interrupt
}

TEST_CASE("Linux's quick_pit_calibrate: reading LSB then MSB of the running count, no latch") {
    Pit p;
    p.out(0x61, 0x01);
    p.at_tick(0);
    p.out(0x43, 0xb0);
    p.out(0x42, 0xff);
    p.out(0x42, 0xff);
    p.at_tick(257);
    p.in(0x42);
    CHECK(p.in(0x42) == 0xfe);  // the MSB drops every 256 clocks
    for (std::uint64_t t = 257; t < 5000; t += 37) {
        CAPTURE(t);
        p.at_tick(t);
        std::uint32_t expected = 0xffff - static_cast<std::uint32_t>(t - 1);
        CHECK(p.in(0x42) == (expected & 0xff));
        CHECK(p.in(0x42) == (expected >> 8));
    }
}

TEST_CASE("gate 2 low suspends a mode 0 count and high resumes it") {
    Pit p;
    p.out(0x61, 0x01);
    p.at_tick(0);
    p.program(2, 0, 100);
    p.at_tick(50);
    CHECK(p.latched_word(2) == 51);
    p.out(0x61, 0x00);
    p.at_tick(80);
    CHECK(p.latched_word(2) == 51);
    CHECK_FALSE(p.out2());
    p.out(0x61, 0x01);
    p.at_tick(80 + 50);
    CHECK_FALSE(p.out2());
    p.at_tick(80 + 51);  // 101 counting clocks in all
    CHECK(p.out2());
    // A count written while the gate is low waits for it.
    p.out(0x61, 0x00);
    p.at_tick(1000);
    p.program(2, 0, 10);
    p.at_tick(2000);
    CHECK(p.latched_word(2) == 10);
    p.out(0x61, 0x01);
    p.at_tick(2000 + 10);
    CHECK_FALSE(p.out2());
    p.at_tick(2000 + 11);
    CHECK(p.out2());
}

TEST_CASE("counter 0, mode 2 (Linux's periodic tick): one IOAPIC pin 2 edge per period, next_deadline in TSC") {
    Pit p;
    p.at_tick(5);
    p.out(0x43, 0x34);
    p.out(0x40, 1193 & 0xff);
    p.out(0x40, 1193 >> 8);
    CHECK(p.irq.changes.empty());  // OUT stays high: no spurious edge
    for (std::uint64_t k = 1; k <= 5; ++k) {
        CAPTURE(k);
        std::uint64_t edge = 5 + k * 1193 + 1;
        CHECK(*p.pit.next_deadline() == edge * kTscPerTick);
        p.pit.advance(edge * kTscPerTick - 1);
        CHECK(p.irq.rising[2] == k - 1);
        p.pit.advance(edge * kTscPerTick);
        CHECK(p.irq.rising[2] == k);
        CHECK(p.irq.level(2));
    }
    // OUT is low for the one clock before each reload.
    p.pit.advance((5 + 6 * 1193) * kTscPerTick);
    CHECK_FALSE(p.irq.level(2));
    p.pit.advance((5 + 6 * 1193 + 1) * kTscPerTick);
    CHECK(p.irq.rising[2] == 6);
    // Periods nobody looked at arrive as one edge; the next deadline is the next period.
    p.pit.advance((5 + 16 * 1193 + 100) * kTscPerTick);
    CHECK(p.irq.rising[2] == 7);
    CHECK(*p.pit.next_deadline() == (5 + 17 * 1193 + 1) * kTscPerTick);
    p.at_tick(5 + 16 * 1193 + 100);
    CHECK(p.latched_word(0) == 1193 - 99);
    CHECK(p.pit.irq_edges() == 7);
}

TEST_CASE("counter 0, mode 0 and Linux's shutdown (0x30, 0, 0): one edge 65537 clocks later, then none") {
    Pit p;
    p.at_tick(100);
    p.out(0x43, 0x30);
    CHECK_FALSE(p.irq.level(2));  // OUT low at once
    CHECK_FALSE(p.pit.next_deadline());
    p.out(0x40, 0);
    p.out(0x40, 0);
    CHECK(*p.pit.next_deadline() == (100 + 65537) * kTscPerTick);
    p.pit.advance((100 + 65536) * kTscPerTick);
    CHECK(p.irq.rising[2] == 0);
    p.pit.advance((100 + 65537) * kTscPerTick);
    CHECK(p.irq.rising[2] == 1);
    CHECK_FALSE(p.pit.next_deadline());
    p.pit.advance(1000000 * kTscPerTick);
    CHECK(p.irq.rising[2] == 1);
    // Writing the first byte of a new count stops the count and drops OUT.
    p.at_tick(1000000);
    p.out(0x40, 0x10);
    CHECK_FALSE(p.irq.level(2));
    CHECK_FALSE(p.pit.next_deadline());
    p.out(0x40, 0x00);
    CHECK(*p.pit.next_deadline() == (1000000 + 17) * kTscPerTick);
}

TEST_CASE("counter 0, mode 4 (Linux's one-shot): a one-clock strobe, its rising edge N + 2 clocks after the count") {
    Pit p;
    p.at_tick(0);
    p.out(0x43, 0x38);
    p.out(0x40, 100);
    p.out(0x40, 0);
    CHECK(p.pit.counter(0).output(0));
    CHECK(p.irq.changes.empty());
    CHECK(*p.pit.next_deadline() == 102 * kTscPerTick);
    p.pit.advance(101 * kTscPerTick);
    CHECK_FALSE(p.irq.level(2));
    p.pit.advance(102 * kTscPerTick);
    CHECK(p.irq.level(2));
    CHECK(p.irq.rising[2] == 1);
    CHECK_FALSE(p.pit.next_deadline());
}

TEST_CASE("mode 3 square wave: OUT high for ceil(N/2), low for floor(N/2), counting by two") {
    for (std::uint32_t n : {10u, 5u}) {
        CAPTURE(n);
        Pit p;
        p.out(0x61, 0x01);
        p.at_tick(0);
        p.program(2, 3, n);
        std::vector<int> out, values;
        for (std::uint64_t t = 1; t <= 2 * n; ++t) {
            p.at_tick(t);
            out.push_back(p.out2() ? 1 : 0);
            values.push_back(static_cast<int>(p.latched_word(2)));
        }
        if (n == 10) {
            CHECK(out == std::vector<int>{1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0});
            CHECK(values == std::vector<int>{10, 8, 6, 4, 2, 10, 8, 6, 4, 2, 10, 8, 6, 4, 2, 10, 8, 6, 4, 2});
        } else {
            CHECK(out == std::vector<int>{1, 1, 1, 0, 0, 1, 1, 1, 0, 0});
            CHECK(values == std::vector<int>{4, 2, 0, 4, 2, 4, 2, 0, 4, 2});
        }
    }
    // On counter 0, every period is an edge; gate 2 low holds OUT2 high and a rising gate reloads.
    Pit p;
    p.at_tick(0);
    p.program(0, 3, 100);
    p.pit.advance(1001 * kTscPerTick);
    CHECK(p.irq.rising[2] == 1);
    CHECK(*p.pit.next_deadline() == 1101 * kTscPerTick);
    p.at_tick(2000);
    p.out(0x61, 0x01);
    p.program(2, 3, 10);
    p.at_tick(2007);
    CHECK_FALSE(p.out2());
    p.out(0x61, 0x00);
    CHECK(p.out2());
    p.at_tick(2020);
    p.out(0x61, 0x01);
    p.at_tick(2021);
    CHECK(p.latched_word(2) == 10);
}

TEST_CASE("modes 1 and 5 on counter 2: triggered by the rising edge of gate 2") {
    Pit p;
    p.out(0x61, 0x00);
    p.at_tick(0);
    p.out(0x43, 0x92);  // counter 2, LSB only, mode 1
    p.out(0x42, 10);
    p.at_tick(50);
    CHECK(p.out2());    // waiting for the trigger
    p.out(0x61, 0x01);  // trigger at 50
    p.at_tick(50);
    CHECK(p.out2());
    p.at_tick(51);
    CHECK_FALSE(p.out2());
    CHECK(p.in(0x42) == 10);
    p.at_tick(60);
    CHECK_FALSE(p.out2());
    p.at_tick(61);
    CHECK(p.out2());
    p.out(0x61, 0x00);  // retrigger
    p.out(0x61, 0x01);
    p.at_tick(62);
    CHECK_FALSE(p.out2());
    // Mode 5: a one-clock strobe N + 1 clocks after the trigger.
    p.out(0x43, 0x9a);
    p.out(0x42, 4);
    p.out(0x61, 0x00);
    p.at_tick(100);
    p.out(0x61, 0x01);
    std::vector<int> out;
    for (std::uint64_t t = 100; t <= 107; ++t) {
        p.at_tick(t);
        out.push_back(p.out2() ? 1 : 0);
    }
    CHECK(out == std::vector<int>{1, 1, 1, 1, 1, 0, 1, 1});
}

TEST_CASE("the counter latch holds a value until read; a second latch before that is ignored") {
    Pit p;
    p.at_tick(0);
    p.program(0, 2, 1000);
    p.at_tick(11);
    p.out(0x43, 0x00);
    p.at_tick(500);
    p.out(0x43, 0x00);  // ignored
    CHECK(p.read_word(0) == 990);
    CHECK(p.read_word(0) == 1000 - 499);  // live again
    // Latching between the two bytes of a live read: the MSB comes from the latch.
    p.at_tick(600);
    CHECK(p.in(0x40) == ((1000 - 599) & 0xff));
    p.out(0x43, 0x00);
    p.at_tick(700);
    CHECK(p.in(0x40) == ((1000 - 599) >> 8));
    CHECK(p.read_word(0) == 1000 - 699);  // the latch is used up
}

TEST_CASE("the read-back command latches status and count; status reads first") {
    Pit p;
    p.at_tick(0);
    p.out(0x43, 0x34);  // counter 0, lo/hi, mode 2
    p.out(0x43, 0xe2);  // read-back: status of counter 0 only
    CHECK(p.in(0x40) == 0xf4);  // OUT high, null count, RW 11, mode 010, binary
    p.out(0x40, 0xe8);
    p.out(0x40, 0x03);  // 1000
    p.out(0x43, 0xe2);
    CHECK(p.in(0x40) == 0xf4);  // written but not yet loaded: still null count
    p.at_tick(5);
    p.out(0x43, 0xc2);  // count and status
    p.out(0x43, 0xc2);  // again: both latches already held, ignored
    p.at_tick(50);
    CHECK(p.in(0x40) == 0xb4);
    CHECK(p.read_word(0) == 1000 - 4);
    // Several counters at once; a mode written as 6 reads back as 6 (it is mode 2).
    p.out(0x43, 0x7c);  // counter 1, lo/hi, mode 6, binary
    p.out(0x43, 0xec);  // read-back status, counters 1 and 2
    CHECK(p.in(0x41) == 0xfc);  // OUT high, null count, RW 11, M 110
    CHECK(p.in(0x42) == 0xf6);  // counter 2 from reset: OUT high, null count, mode 3
    CHECK(p.pit.counter(1).mode() == 2);
    CHECK(p.in(0x43) == 0xff);  // the control word register cannot be read
}

TEST_CASE("LSB-only and MSB-only access modes") {
    Pit p;
    p.out(0x61, 0x01);
    p.at_tick(0);
    p.out(0x43, 0x90);  // counter 2, LSB only, mode 0
    p.out(0x42, 0x20);
    p.at_tick(3);
    CHECK(p.in(0x42) == 0x1e);
    CHECK(p.in(0x42) == 0x1e);
    p.at_tick(10);
    p.out(0x43, 0xa0);  // MSB only
    p.out(0x42, 0x01);  // 256
    CHECK(p.in(0x42) == 0x01);
    p.at_tick(12);
    CHECK(p.in(0x42) == 0x00);  // 255: MSB 0
}

TEST_CASE("BCD counting: counts are four decimal digits, 0 means 10000") {
    Pit p;
    p.out(0x61, 0x01);
    p.at_tick(0);
    p.out(0x43, 0xb1);  // counter 2, lo/hi, mode 0, BCD
    p.out(0x42, 0x00);
    p.out(0x42, 0x10);  // 1000
    p.at_tick(1);
    CHECK(p.latched_word(2) == 0x1000);
    p.at_tick(11);
    CHECK(p.latched_word(2) == 0x0990);
    p.at_tick(1001);
    CHECK(p.out2());
    p.at_tick(1002);
    CHECK(p.latched_word(2) == 0x9999);
    p.program(2, 0, 0);
    p.out(0x43, 0xb1);
    p.out(0x42, 0);
    p.out(0x42, 0);
    p.at_tick(1002 + 10000);
    CHECK_FALSE(p.out2());
    p.at_tick(1002 + 10001);
    CHECK(p.out2());
}

TEST_CASE("port 0x61: gate, speaker and check enables stored, refresh toggling every 18 clocks, OUT2") {
    Pit p;
    p.at_tick(0);
    p.out(0x61, 0xff);
    CHECK((p.in(0x61) & 0x1f) == 0x0f);
    p.at_tick(17);
    CHECK((p.in(0x61) & 0x10) == 0);
    p.at_tick(18);
    CHECK((p.in(0x61) & 0x10) == 0x10);
    p.at_tick(36);
    CHECK((p.in(0x61) & 0x10) == 0);
    CHECK((p.in(0x61) & 0x20) == 0x20);  // unprogrammed counter 2: OUT high
    CHECK((p.in(0x61) & 0xc0) == 0);
}

TEST_CASE("a real TSC rate: the deadline is the first TSC at which the edge's clock has come") {
    constexpr std::uint64_t kHz = 2'394'123'000;
    Pit p(kHz);
    p.clock.tsc = 123'456'789'012;
    std::uint64_t start = tandem::mul_div(p.clock.tsc, Pit8254Model::kFrequencyHz, kHz);
    CHECK(p.pit.tick_at(p.clock.tsc) == start);
    p.program(0, 2, 11932);
    std::uint64_t edge_tick = start + 11932 + 1;
    std::uint64_t deadline = *p.pit.next_deadline();
    CHECK(p.pit.tick_at(deadline) == edge_tick);
    CHECK(p.pit.tick_at(deadline - 1) == edge_tick - 1);
    p.pit.advance(deadline - 1);
    CHECK(p.irq.rising[2] == 0);
    p.pit.advance(deadline);
    CHECK(p.irq.rising[2] == 1);
    // Hours of guest time on: a * b no longer fits in 64 bits, the conversion still does.
    std::uint64_t late = 40'000'000'000'000'000ull;
    CHECK(p.pit.tick_at(late) == static_cast<std::uint64_t>(static_cast<unsigned __int128>(late) * 1193182 / kHz));
}

TEST_CASE("device state: a restored PIT continues exactly as the saved one") {
    Pit a;
    CHECK(a.pit.state_id() == tandem::kDeviceIdPit);
    CHECK(a.pit.state_version() == 1);
    CHECK(std::string(a.pit.state_name()) == "pit");
    a.at_tick(3);
    a.program(0, 2, 1193);
    a.out(0x61, 0x03);
    a.program(2, 0, 0xffff);
    a.out(0x43, 0x40 | 0x30 | 0x06);  // counter 1: mode 3, waiting for its count
    a.out(0x41, 0x34);                // ... LSB written, MSB to come
    a.at_tick(700);
    a.out(0x43, 0x80);  // latch counter 2
    a.in(0x42);         // and read its LSB
    a.pit.advance(2000 * kTscPerTick);
    auto saved = a.save();
    CHECK(saved.size() <= 1024);
    for (int round = 0; round < 3; ++round) {
        CAPTURE(round);
        Pit b;
        b.program(0, 0, 5);
        b.irq = test::RecordingIrqLines{};
        REQUIRE(status_message(b.pit.restore_state(1, saved)) == "");
        CHECK(b.save() == saved);
        CHECK(b.irq.changes.empty());  // restoring drives no line
        CHECK(b.pit.next_deadline() == a.pit.next_deadline());
        Pit copy;  // a second copy of a to run alongside b
        REQUIRE(status_message(copy.pit.restore_state(1, saved)) == "");
        for (Pit* x : {&b, &copy}) {
            x->at_tick(2100);
            x->out(0x41, 0x12);  // the MSB completes counter 1's count
        }
        CHECK(b.in(0x42) == copy.in(0x42));  // the latched MSB
        for (std::uint64_t t = 2100; t < 9000; t += 333) {
            b.pit.advance(t * kTscPerTick);
            copy.pit.advance(t * kTscPerTick);
            b.at_tick(t);
            copy.at_tick(t);
            CHECK(b.latched_word(0) == copy.latched_word(0));
            CHECK(b.latched_word(1) == copy.latched_word(1));
            CHECK(b.in(0x61) == copy.in(0x61));
            CHECK(b.pit.next_deadline() == copy.pit.next_deadline());
        }
        CHECK(b.irq.changes == copy.irq.changes);
        CHECK(b.irq.rising[2] == 6);
        CHECK(b.save() == copy.save());
    }
}

TEST_CASE("device state: malformed PIT states are refused and change nothing") {
    Pit a;
    a.out(0x61, 0x01);
    a.program(0, 2, 1000);
    a.program(2, 0, 500);
    auto good = a.save();
    Pit target;
    target.program(0, 3, 77);
    test::check_malformed_states_refused(target.pit, good, 1);
    auto refused = [&](std::size_t offset, std::vector<std::uint8_t> bytes, const char* message) {
        CAPTURE(offset);
        auto bad = good;
        for (std::size_t i = 0; i < bytes.size(); ++i) bad[offset + i] = bytes[i];
        Pit t;
        auto before = t.save();
        CHECK(status_message(t.pit.restore_state(1, bad)) == message);
        CHECK(t.save() == before);
    };
    // Layout: tsc_hz 0, port 0x61 8, line 9, synced tick 10, counters at 18, 47, 76: mode 0,
    // access 1, bcd 2, count register 3, flags 5, latched count 6, latched status 8, n 9,
    // start 13, clocks 21.
    refused(0, {0, 0, 0, 0, 0, 0, 0, 0}, "pit: zero TSC frequency in state");
    refused(8, {0x11}, "pit: bad port 0x61 or line state");
    refused(9, {2}, "pit: bad port 0x61 or line state");
    refused(8, {0x00}, "pit: gate 2 disagrees with port 0x61 in state");
    refused(18, {8}, "pit: bad counter mode in state");
    refused(19, {0}, "pit: bad counter mode in state");
    refused(20, {2}, "pit: bad counter mode in state");
    refused(18 + 5, {0x20 | 0x02}, "pit: gate of counter 0 or 1 low in state");
    refused(18 + 9, {1, 0}, "pit: bad count in state");  // mode 2 with a count of 1
    refused(18 + 11, {2}, "pit: bad count in state"); // above 65536
    refused(18 + 5, {0x10 | 0x20 | 0x40}, "pit: bad trigger flag in state");
    refused(18 + 5, {0x10 | 0x20 | 0x80}, "pit: bad gate state in state");
}

}  // TEST_SUITE

// A backup calibrates its TSC a little differently from the primary: the guest's frequency (the
// one it was booted with) travels with the state and is adopted, so counts go on at its rate.
TEST_CASE("a restored PIT keeps the saved guest's TSC frequency") {
    Pit a;  // kTscPerTick TSC cycles per PIT tick
    a.program(0, 2, 1000);
    a.at_tick(250);
    Pit b(Pit8254Model::kFrequencyHz * kTscPerTick + 12345);
    REQUIRE(status_message(b.pit.restore_state(1, a.save())) == "");
    b.clock.tsc = a.clock.tsc;
    CHECK(b.pit.tick_at(b.clock.tsc + 7 * kTscPerTick) == a.pit.tick_at(a.clock.tsc + 7 * kTscPerTick));
    CHECK(b.save() == a.save());
}
