// The guest's CMOS RTC (hypervisor/devices/cmos_rtc_model.hpp, MC146818A): time from a base
// wall-clock plus guest TSC, BCD/binary and 12/24-hour formats, the update-in-progress window
// Linux polls, setting the time with and without SET, the divider, periodic, update-ended and
// alarm interrupts on IOAPIC pin 8 (only when enabled), CMOS RAM, and the state.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "device_fakes.hpp"
#include "helpers.hpp"
#include "hypervisor/devices/civil_time.hpp"
#include "hypervisor/devices/cmos_rtc_model.hpp"

using tandem::CmosRtcModel;
using test::status_message;

namespace {

constexpr std::uint64_t kHz = 1'000'000;            // one guest TSC cycle per microsecond
constexpr std::int64_t kLeapDay = 1709251198;        // 2024-02-29 23:59:58 UTC, a Thursday
constexpr std::uint8_t kSec = 0x00, kSecAlarm = 0x01, kMin = 0x02, kMinAlarm = 0x03, kHour = 0x04, kHourAlarm = 0x05;
constexpr std::uint8_t kDow = 0x06, kDay = 0x07, kMonth = 0x08, kYear = 0x09;
constexpr std::uint8_t kA = 0x0a, kB = 0x0b, kC = 0x0c, kD = 0x0d;

struct Rtc {
    explicit Rtc(std::int64_t time = kLeapDay) : rtc(clock, irq, tandem::CmosRtcConfig{kHz, time, 0}) {}

    std::uint8_t get(std::uint8_t index) {
        rtc.write(0x70, 1, index);
        return static_cast<std::uint8_t>(rtc.read(0x71, 1));
    }
    void put(std::uint8_t index, std::uint8_t value) {
        rtc.write(0x70, 1, index);
        rtc.write(0x71, 1, value);
    }
    std::vector<int> time() {
        return {get(kSec), get(kMin), get(kHour), get(kDow), get(kDay), get(kMonth), get(kYear)};
    }
    bool uip() { return (get(kA) & 0x80) != 0; }
    std::vector<std::uint8_t> save() const { return test::saved_state(rtc); }

    test::FakeClock clock;
    test::RecordingIrqLines irq;
    CmosRtcModel rtc;
};

}  // namespace

TEST_SUITE("cmos_rtc") {

TEST_CASE("after reset: the given time in BCD, 24-hour; registers A-D; the century in CMOS RAM") {
    Rtc r;
    CHECK(r.time() == std::vector<int>{0x58, 0x59, 0x23, 0x05, 0x29, 0x02, 0x24});
    CHECK(r.get(kA) == 0x26);
    CHECK(r.get(kB) == 0x02);
    CHECK(r.get(kC) == 0x00);
    CHECK(r.get(kD) == 0x80);  // valid RAM and time; bit 6 clear, as Linux checks
    CHECK(r.get(0x32) == 0x20);
    CHECK(r.rtc.time_at(0) == kLeapDay);
    CHECK(r.irq.changes.empty());
    CHECK_FALSE(r.rtc.next_deadline());
}

TEST_CASE("the clock runs with the guest TSC, across the leap day into March") {
    Rtc r;
    r.clock.tsc = 1'999'999;
    CHECK(r.time() == std::vector<int>{0x59, 0x59, 0x23, 0x05, 0x29, 0x02, 0x24});
    r.clock.tsc = 2'000'000;
    CHECK(r.time() == std::vector<int>{0x00, 0x00, 0x00, 0x06, 0x01, 0x03, 0x24});
    r.clock.tsc = 2'000'000 + 86'400'000'000ull * 305;  // to the last day of the year
    CHECK(r.time() == std::vector<int>{0x00, 0x00, 0x00, 0x03, 0x31, 0x12, 0x24});
    r.clock.tsc += 86'400'000'000ull;
    CHECK(r.time() == std::vector<int>{0x00, 0x00, 0x00, 0x04, 0x01, 0x01, 0x25});
}

TEST_CASE("binary and 12-hour formats") {
    Rtc r;
    r.put(kB, 0x06);  // binary, 24-hour
    CHECK(r.time() == std::vector<int>{58, 59, 23, 5, 29, 2, 24});
    r.put(kB, 0x04);  // binary, 12-hour: 11 PM
    CHECK(r.get(kHour) == (0x80 | 11));
    r.put(kB, 0x00);  // BCD, 12-hour
    CHECK(r.get(kHour) == 0x91);
    r.clock.tsc = 2'000'000;  // midnight: 12 AM
    CHECK(r.get(kHour) == 0x12);
    r.clock.tsc = 2'000'000 + 12 * 3'600'000'000ull;  // noon: 12 PM
    CHECK(r.get(kHour) == 0x92);
    // Writing hours in 12-hour format: 3 PM.
    r.put(kHour, 0x83);
    r.put(kB, 0x02);
    CHECK(r.get(kHour) == 0x15);
}

TEST_CASE("UIP is set for the 2228 us before each second boundary, where the registers change") {
    Rtc r;
    r.clock.tsc = 500'000;
    CHECK_FALSE(r.uip());
    r.clock.tsc = 1'000'000 - 2229;
    CHECK_FALSE(r.uip());
    r.clock.tsc = 1'000'000 - 2228;
    CHECK(r.uip());
    CHECK(r.get(kSec) == 0x58);
    r.clock.tsc = 999'999;
    CHECK(r.uip());
    r.clock.tsc = 1'000'000;
    CHECK_FALSE(r.uip());
    CHECK(r.get(kSec) == 0x59);
    // Linux's mc146818_get_time(): seconds, then UIP; if set, wait 100 us and retry; read the
    // rest; the seconds must not have changed. From any start it reads a consistent time.
    for (std::uint64_t start = 2'990'000; start < 3'010'000; start += 777) {
        CAPTURE(start);
        r.clock.tsc = start;
        std::vector<int> t;
        for (int tries = 0; tries < 100; ++tries) {
            int sec = r.get(kSec);
            if (r.uip()) {
                r.clock.tsc += 100;
                continue;
            }
            t = r.time();
            r.clock.tsc += 20;  // the reads take a little while
            if (sec == r.get(kSec) && t[0] == sec) break;
            t.clear();
        }
        REQUIRE_FALSE(t.empty());
        CHECK(t[0] == (start < 3'000'000 - 2228 ? 0x00 : 0x01));
    }
}

TEST_CASE("setting the time under SET: frozen while set, running from the written time after") {
    Rtc r;
    r.clock.tsc = 300'000;
    r.put(kB, 0x82);
    r.put(kSec, 0x30);
    r.put(kMin, 0x15);
    r.put(kHour, 0x10);
    r.put(kDay, 0x15);
    r.put(kMonth, 0x06);
    r.put(kYear, 0x25);
    r.put(kDow, 0x01);  // ignored: derived from the date
    r.clock.tsc = 5'000'000;
    CHECK(r.time() == std::vector<int>{0x30, 0x15, 0x10, 0x01, 0x15, 0x06, 0x25});  // 2025-06-15 was a Sunday
    r.clock.tsc = 5'999'000;
    CHECK_FALSE(r.uip());  // no updates while SET
    r.put(kB, 0x02);
    r.clock.tsc = 5'999'000 + 999'999;
    CHECK(r.get(kSec) == 0x30);
    r.clock.tsc = 5'999'000 + 1'000'000;
    CHECK(r.get(kSec) == 0x31);
    CHECK(r.rtc.time_at(r.clock.tsc) == tandem::seconds_from_civil(2025, 6, 15, 10, 15, 31));
}

TEST_CASE("writing a field without SET changes only that field and keeps the second's phase") {
    Rtc r;
    r.clock.tsc = 1'300'000;  // 23:59:59.3
    r.put(kMin, 0x05);
    CHECK(r.time() == std::vector<int>{0x59, 0x05, 0x23, 0x05, 0x29, 0x02, 0x24});
    r.clock.tsc = 1'999'999;
    CHECK(r.get(kSec) == 0x59);
    r.clock.tsc = 2'000'000;
    CHECK(r.get(kSec) == 0x00);
    CHECK(r.get(kMin) == 0x06);
    // Out-of-range values carry into the next field, as mktime does: minute 75.
    r.put(kMin, 0x75);
    CHECK(r.time() == std::vector<int>{0x00, 0x15, 0x00, 0x06, 0x01, 0x03, 0x24});
}

TEST_CASE("SET clears UIE; the divider in reset holds the clock and restarts half a second from the first update") {
    Rtc r;
    r.put(kB, 0x12);
    r.put(kB, 0x92);
    CHECK(r.get(kB) == 0x82);
    r.put(kB, 0x02);
    r.clock.tsc = 400'000;
    r.put(kA, 0x76);  // divider reset
    r.clock.tsc = 3'000'000;
    CHECK(r.get(kSec) == 0x58);
    CHECK_FALSE(r.uip());
    r.put(kA, 0x26);
    r.clock.tsc = 3'499'999;
    CHECK(r.get(kSec) == 0x58);
    r.clock.tsc = 3'500'000;
    CHECK(r.get(kSec) == 0x59);
    CHECK(r.get(kA) == 0x26);
}

TEST_CASE("periodic interrupt: flag always, IRQ 8 only with PIE, until register C is read") {
    Rtc r;
    r.clock.tsc = 5000;
    r.rtc.advance(5000);
    CHECK(r.irq.changes.empty());
    CHECK_FALSE(r.rtc.next_deadline());   // nothing enabled: no timer exits
    r.put(kB, 0x42);                      // PIE: PF is already set, so IRQF and the line rise
    CHECK(r.irq.changes == std::vector<std::pair<unsigned, bool>>{{8, true}});
    CHECK_FALSE(r.rtc.next_deadline());   // the line is up until C is read
    CHECK(r.get(kC) == 0xc0);
    CHECK(r.irq.changes.back() == std::pair<unsigned, bool>{8, false});
    CHECK(r.get(kC) == 0x00);
    // 1024 Hz: tick k of the 32.768 kHz divider at ceil(k * 1e6 / 32768); the next is k = 192.
    CHECK(*r.rtc.next_deadline() == 5860);
    r.rtc.advance(5859);
    CHECK_FALSE(r.irq.level(8));
    r.rtc.advance(5860);
    r.clock.tsc = 5860;
    CHECK(r.irq.level(8));
    CHECK(r.irq.rising[8] == 2);
    CHECK(r.get(kC) == 0xc0);
    // Other rates: 8192 Hz (3), 256 Hz (1), 128 Hz (2), 2 Hz (15); rate 0 is off.
    const std::pair<std::uint8_t, std::uint64_t> rates[] = {{3, 4}, {1, 128}, {2, 256}, {15, 16384}};
    for (const auto& rate : rates) {
        CAPTURE(int(rate.first));
        r.put(kA, static_cast<std::uint8_t>(0x20 | rate.first));
        std::uint64_t now = r.clock.tsc;
        std::uint64_t ticks = now * 32768 / kHz;
        std::uint64_t next = (ticks / rate.second + 1) * rate.second;
        CHECK(*r.rtc.next_deadline() == (next * kHz + 32767) / 32768);
    }
    r.put(kA, 0x20);
    CHECK_FALSE(r.rtc.next_deadline());
}

TEST_CASE("update-ended and alarm interrupts") {
    Rtc r;
    r.put(kA, 0x20);  // no periodic rate: only the update and alarm flags below
    r.put(kB, 0x12);  // UIE
    CHECK(*r.rtc.next_deadline() == 1'000'000);
    r.rtc.advance(1'000'000);
    CHECK(r.irq.level(8));
    CHECK(r.get(kC) == 0x90);
    r.put(kB, 0x02);
    // Alarm at 00:00:05 (2024-03-01), seven seconds after the start.
    r.put(kSecAlarm, 0x05);
    r.put(kMinAlarm, 0x00);
    r.put(kHourAlarm, 0x00);
    r.put(kB, 0x22);
    CHECK(*r.rtc.next_deadline() == 7'000'000);
    r.rtc.advance(6'999'999);
    CHECK_FALSE(r.irq.level(8));
    r.rtc.advance(7'000'000);
    CHECK(r.irq.level(8));
    r.clock.tsc = 7'000'000;
    CHECK(r.get(kC) == 0xb0);  // IRQF, AF and UF (the update flag is set whether enabled or not)
    // Don't-care hours and minutes, second 30: the next match is 00:00:30.
    r.put(kHourAlarm, 0xc0);
    r.put(kMinAlarm, 0xff);
    r.put(kSecAlarm, 0x30);
    CHECK(*r.rtc.next_deadline() == 32'000'000);
    // All don't-care: every second.
    r.put(kSecAlarm, 0xc0);
    CHECK(*r.rtc.next_deadline() == 8'000'000);
    // An alarm that can never match (minute 0x61) asks for nothing.
    r.put(kSecAlarm, 0x00);
    r.put(kMinAlarm, 0x61);
    CHECK_FALSE(r.rtc.next_deadline());
    // A long absence still finds the alarm that passed.
    r.put(kMinAlarm, 0x30);
    r.put(kHourAlarm, 0x12);
    r.rtc.advance(7'000'000 + 86'400'000'000ull);
    CHECK(r.get(kC) == 0xb0);
}

TEST_CASE("port 0x70: bit 7 (NMI mask) ignored, not readable; CMOS RAM 0x0e-0x7f; C and D read-only") {
    Rtc r;
    r.rtc.write(0x70, 1, 0x80 | kA);
    CHECK(r.rtc.read(0x71, 1) == 0x26);
    CHECK(r.rtc.read(0x70, 1) == 0xff);
    for (unsigned i = 0x0e; i < 0x80; ++i) r.put(static_cast<std::uint8_t>(i), static_cast<std::uint8_t>(i * 3));
    for (unsigned i = 0x0e; i < 0x80; ++i) {
        CHECK(r.get(static_cast<std::uint8_t>(i)) == static_cast<std::uint8_t>(i * 3));
    }
    r.put(kC, 0xff);
    r.put(kD, 0x00);
    CHECK(r.get(kC) == 0);
    CHECK(r.get(kD) == 0x80);
    CHECK(r.get(kB) == 0x02);
    // A 16-bit access at 0x70 writes the index and the data.
    r.rtc.write(0x70, 2, (0x55u << 8) | 0x40);
    CHECK(r.get(0x40) == 0x55);
}

TEST_CASE("device state: a restored RTC shows the same time and interrupts at the same guest TSC") {
    Rtc a;
    CHECK(a.rtc.state_id() == tandem::kDeviceIdRtc);
    CHECK(a.rtc.state_version() == 1);
    CHECK(std::string(a.rtc.state_name()) == "rtc");
    a.clock.tsc = 1'234'567;
    a.put(kMin, 0x30);
    a.put(0x50, 0xab);
    a.put(kSecAlarm, 0x10);
    a.put(kMinAlarm, 0xc0);
    a.put(kHourAlarm, 0xc0);
    a.put(kA, 0x2f);  // 2 Hz
    a.put(kB, 0x62);  // PIE, AIE
    a.get(kC);
    a.rtc.write(0x70, 1, kYear);
    auto saved = a.save();
    CHECK(saved.size() <= 1024);
    for (int round = 0; round < 3; ++round) {
        CAPTURE(round);
        Rtc b(0);
        b.put(kB, 0x12);
        b.rtc.advance(3'000'000);
        b.irq = test::RecordingIrqLines{};
        REQUIRE(status_message(b.rtc.restore_state(1, saved)) == "");
        CHECK(b.save() == saved);
        CHECK(b.irq.changes.empty());
        CHECK(b.rtc.next_deadline() == a.rtc.next_deadline());
        CHECK(b.rtc.read(0x71, 1) == 0x24);  // the index survived
        Rtc c(0);  // a second copy
        REQUIRE(status_message(c.rtc.restore_state(1, saved)) == "");
        for (std::uint64_t t = 1'300'000; t < 15'000'000; t += 123'457) {
            for (Rtc* x : {&b, &c}) {
                x->rtc.advance(t);
                x->clock.tsc = t;
            }
            CHECK(b.time() == c.time());
            CHECK(b.get(kC) == c.get(kC));
            CHECK(b.rtc.next_deadline() == c.rtc.next_deadline());
        }
        CHECK(b.irq.changes == c.irq.changes);
        CHECK(b.irq.rising[8] > 10);
        CHECK(b.get(0x50) == 0xab);
    }
}

TEST_CASE("device state: malformed RTC states are refused and change nothing") {
    Rtc a;
    a.put(kB, 0x42);
    a.rtc.advance(10'000);
    auto good = a.save();
    Rtc target;
    target.put(0x20, 1);
    test::check_malformed_states_refused(target.rtc, good, 1);
    auto refused = [&](std::size_t offset, std::vector<std::uint8_t> bytes, const char* message) {
        CAPTURE(offset);
        auto bad = good;
        for (std::size_t i = 0; i < bytes.size(); ++i) bad[offset + i] = bytes[i];
        Rtc t;
        auto before = t.save();
        CHECK(status_message(t.rtc.restore_state(1, bad)) == message);
        CHECK(t.save() == before);
    };
    // Layout: tsc_hz 0, index 8, A 9, B 10, C 11, alarms 12, line 15, RAM 16, time 130,
    // origin 138, divider 146, synced 154.
    refused(0, {0, 0, 0, 0, 0, 0, 0, 0}, "rtc: zero TSC frequency in state");
    refused(8, {0x80}, "rtc: bad index or register A in state");
    refused(9, {0xa6}, "rtc: bad index or register A in state");
    refused(10, {0x92}, "rtc: SET and UIE together in state");
    refused(11, {0x41}, "rtc: bad register C in state");
    refused(11, {0x40}, "rtc: bad register C in state");  // PF with PIE but no IRQF
    refused(15, {0}, "rtc: bad register C in state");     // IRQF but the line low
    refused(130, {0, 0, 0, 0, 0, 0, 0, 0x80}, "rtc: time out of range in state");
    refused(130, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, "rtc: time out of range in state");
}

}  // TEST_SUITE
