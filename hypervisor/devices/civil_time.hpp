// Seconds since 1970-01-01 00:00:00 UTC <-> proleptic Gregorian date and time, for the CMOS RTC.
// Days from and to dates after Howard Hinnant's public-domain algorithms (chrono-compatible
// low-level date algorithms); no tables, valid far beyond the RTC's range.
#pragma once

#include <cstdint>

namespace tandem {

struct CivilTime {
    std::int64_t year;
    int month;  // 1-12
    int day;    // 1-31
    int hour, minute, second;
    int weekday;  // 0 = Sunday
};

constexpr std::int64_t floor_div(std::int64_t a, std::int64_t b) {
    return a / b - ((a % b != 0) && ((a < 0) != (b < 0)) ? 1 : 0);
}

// Days since 1970-01-01 of y-m-d, m in 1..12; d may lie outside the month (it counts on).
constexpr std::int64_t days_from_civil(std::int64_t y, int m, std::int64_t d) {
    y -= m <= 2 ? 1 : 0;
    std::int64_t era = floor_div(y, 400);
    std::int64_t yoe = y - era * 400;                                    // [0, 399]
    std::int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;  // [0, 365] for valid d
    std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

constexpr CivilTime civil_from_seconds(std::int64_t seconds) {
    std::int64_t days = floor_div(seconds, 86400);
    std::int64_t sod = seconds - days * 86400;
    std::int64_t z = days + 719468;
    std::int64_t era = floor_div(z, 146097);
    std::int64_t doe = z - era * 146097;                                       // [0, 146096]
    std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;  // [0, 399]
    std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);                // [0, 365]
    std::int64_t mp = (5 * doy + 2) / 153;                                     // [0, 11]
    auto m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
    CivilTime t{};
    t.year = yoe + era * 400 + (m <= 2 ? 1 : 0);
    t.month = m;
    t.day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
    t.hour = static_cast<int>(sod / 3600);
    t.minute = static_cast<int>(sod / 60 % 60);
    t.second = static_cast<int>(sod % 60);
    t.weekday = static_cast<int>(days + 4 - floor_div(days + 4, 7) * 7);  // 1970-01-01 was a Thursday
    return t;
}

// Any field may be out of its range (month 13, minute 75): it carries into the next, as mktime does.
constexpr std::int64_t seconds_from_civil(std::int64_t year, std::int64_t month, std::int64_t day, std::int64_t hour,
                                          std::int64_t minute, std::int64_t second) {
    std::int64_t m0 = month - 1;
    year += floor_div(m0, 12);
    auto m = static_cast<int>(m0 - floor_div(m0, 12) * 12 + 1);
    return (days_from_civil(year, m, 1) + day - 1) * 86400 + hour * 3600 + minute * 60 + second;
}

static_assert(days_from_civil(1970, 1, 1) == 0);
static_assert(days_from_civil(2000, 3, 1) == 11017);
static_assert(civil_from_seconds(951782400).month == 2 && civil_from_seconds(951782400).day == 29);  // 2000-02-29
static_assert(civil_from_seconds(-1).year == 1969 && civil_from_seconds(-1).second == 59);
static_assert(civil_from_seconds(0).weekday == 4);
static_assert(seconds_from_civil(2024, 13, 1, 0, 0, 0) == seconds_from_civil(2025, 1, 1, 0, 0, 0));
static_assert(seconds_from_civil(2024, 3, 0, 0, 0, 0) == seconds_from_civil(2024, 2, 29, 0, 0, 0));

}  // namespace tandem
