// The host RTC's registers to Unix seconds (hypervisor/devices/cmos_clock_reading.hpp): BCD and
// binary, 12- and 24-hour clocks, the century register or the 1970-2069 window, and refusals of
// what an unset or broken RTC shows.
#include <doctest/doctest.h>

#include <string>

#include "hypervisor/devices/cmos_clock_reading.hpp"

using tandem::CmosClockRegisters;
using tandem::cmos_clock_to_unix;

namespace {

constexpr std::uint8_t kBinary = 1u << 2, k24Hour = 1u << 1;

std::string error_of(const CmosClockRegisters& r) {
    auto t = cmos_clock_to_unix(r);
    return t ? "" : std::string(t.error().message);
}

}  // namespace

TEST_CASE("host RTC: BCD 24-hour with the century register") {
    // 2026-11-22 09:41:07 UTC = 1795340467 (date -u -d @1795340467).
    CmosClockRegisters r{0x07, 0x41, 0x09, 0x22, 0x11, 0x26, 0x20, k24Hour};
    auto t = cmos_clock_to_unix(r);
    REQUIRE(t);
    CHECK(*t == 1795340467);
}

TEST_CASE("host RTC: binary values, 12-hour clock with PM, no century register") {
    // 2000-01-01 00:00:00 = 946684800; 12 AM is hour 0, 12 PM is hour 12, 1 PM is 13.
    CmosClockRegisters midnight{0, 0, 12, 1, 1, 0, 0, kBinary};
    CHECK(*cmos_clock_to_unix(midnight) == 946684800);
    CmosClockRegisters noon{0, 0, 0x80 | 12, 1, 1, 0, 0, kBinary};
    CHECK(*cmos_clock_to_unix(noon) == 946684800 + 12 * 3600);
    CmosClockRegisters one_pm{0, 0, 0x80 | 1, 1, 1, 0, 0, kBinary};
    CHECK(*cmos_clock_to_unix(one_pm) == 946684800 + 13 * 3600);
    CmosClockRegisters bcd_11_pm{0x59, 0x59, 0x80 | 0x11, 0x31, 0x12, 0x99, 0, 0};
    CHECK(*cmos_clock_to_unix(bcd_11_pm) == 946684800 - 3600 + 3599);  // 1999-12-31 23:59:59
}

TEST_CASE("host RTC: without a century register, years 70-99 are 19xx and 00-69 are 20xx") {
    CmosClockRegisters y70{0, 0, 0, 1, 1, 0x70, 0, k24Hour};
    CHECK(*cmos_clock_to_unix(y70) == 0);
    CmosClockRegisters y69{0, 0, 0, 1, 1, 0x69, 0, k24Hour};
    CHECK(*cmos_clock_to_unix(y69) == 3124224000);  // 2069-01-01
    CmosClockRegisters c19{0, 0, 0, 1, 1, 0x69, 0x19, k24Hour};
    CHECK(*cmos_clock_to_unix(c19) == -31536000);  // 1969-01-01: the century register wins
    CmosClockRegisters leap{0, 0, 0, 0x29, 0x02, 0x24, 0x20, k24Hour};
    CHECK(*cmos_clock_to_unix(leap) == 1709164800);  // 2024-02-29
}

TEST_CASE("host RTC: impossible readings are refused with the reason") {
    CHECK(error_of({0x5a, 0, 0, 1, 1, 0x26, 0x20, k24Hour}) == "host RTC: a time register is not valid BCD");
    CHECK(error_of({0, 0, 0, 0x30, 0x02, 0x26, 0x20, k24Hour}) == "host RTC: impossible day of the month");
    CHECK(error_of({0, 0, 0, 0x29, 0x02, 0x26, 0x20, k24Hour}) == "host RTC: impossible day of the month");  // not leap
    CHECK(error_of({0, 0, 0, 0, 0x01, 0x26, 0x20, k24Hour}) == "host RTC: impossible day of the month");
    CHECK(error_of({0, 0, 0, 1, 0x13, 0x26, 0x20, k24Hour}) == "host RTC: impossible month");
    CHECK(error_of({0, 0, 0x24, 1, 1, 0x26, 0x20, k24Hour}) == "host RTC: impossible time of day");
    CHECK(error_of({60, 0, 0, 1, 1, 26, 20, kBinary | k24Hour}) == "host RTC: impossible time of day");
    CHECK(error_of({0, 0, 0, 1, 1, 100, 20, kBinary | k24Hour}) == "host RTC: the year register is out of range");
    CHECK(error_of({0, 0, 0x13, 1, 1, 0x26, 0x20, 0}) == "host RTC: 12-hour clock reads an impossible hour");
    CHECK(error_of({0, 0, 0x80, 1, 1, 0x26, 0x20, 0}) == "host RTC: 12-hour clock reads an impossible hour");
    CHECK(error_of({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0}) == "host RTC: a time register is not valid BCD");
}

TEST_CASE("host RTC: ISO 8601 for the console") {
    CHECK(std::string(tandem::iso8601(1795340467).text) == "2026-11-22T09:41:07Z");
    CHECK(std::string(tandem::iso8601(0).text) == "1970-01-01T00:00:00Z");
    CHECK(std::string(tandem::iso8601(-31536000).text) == "1969-01-01T00:00:00Z");
    CHECK(std::string(tandem::iso8601(253402300800).text) == "out of range");  // year 10000
}
