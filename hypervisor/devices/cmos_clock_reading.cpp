#include "hypervisor/devices/cmos_clock_reading.hpp"

#include "hypervisor/devices/civil_time.hpp"

namespace tandem {
namespace {

constexpr std::uint8_t kStatusBBinary = 1u << 2;
constexpr std::uint8_t kStatusB24Hour = 1u << 1;
constexpr std::uint8_t kHourPm = 0x80;

// A register's value, or -1 if it is not a valid BCD byte in BCD mode.
int value_of(std::uint8_t raw, bool binary) {
    if (binary) return raw;
    if ((raw & 0x0f) > 9 || (raw >> 4) > 9) return -1;
    return (raw >> 4) * 10 + (raw & 0x0f);
}

int days_in_month(std::int64_t year, int month) {
    static constexpr int kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return month == 2 && leap ? 29 : kDays[month - 1];
}

}  // namespace

Result<std::int64_t> cmos_clock_to_unix(const CmosClockRegisters& r) {
    bool binary = (r.status_b & kStatusBBinary) != 0;
    bool pm = false;
    std::uint8_t hour_raw = r.hour;
    if ((r.status_b & kStatusB24Hour) == 0) {
        pm = (hour_raw & kHourPm) != 0;
        hour_raw = static_cast<std::uint8_t>(hour_raw & ~kHourPm);
    }
    int second = value_of(r.second, binary), minute = value_of(r.minute, binary), hour = value_of(hour_raw, binary);
    int day = value_of(r.day, binary), month = value_of(r.month, binary), year = value_of(r.year, binary);
    int century = value_of(r.century, binary);
    if (second < 0 || minute < 0 || hour < 0 || day < 0 || month < 0 || year < 0) {
        return Error::of("host RTC: a time register is not valid BCD");
    }
    if ((r.status_b & kStatusB24Hour) == 0) {
        if (hour < 1 || hour > 12) return Error::of("host RTC: 12-hour clock reads an impossible hour", r.hour);
        hour = hour % 12 + (pm ? 12 : 0);
    }
    if (year > 99) return Error::of("host RTC: the year register is out of range", r.year);
    std::int64_t full_year = century == 19 || century == 20 ? century * 100 + year : (year < 70 ? 2000 + year : 1900 + year);
    if (month < 1 || month > 12) return Error::of("host RTC: impossible month", r.month);
    if (day < 1 || day > days_in_month(full_year, month)) return Error::of("host RTC: impossible day of the month", r.day);
    if (hour > 23 || minute > 59 || second > 59) return Error::of("host RTC: impossible time of day");
    return days_from_civil(full_year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
}

Iso8601 iso8601(std::int64_t unix_seconds) {
    Iso8601 out{};
    CivilTime t = civil_from_seconds(unix_seconds);
    if (t.year < 0 || t.year > 9999) {
        __builtin_memcpy(out.text, "out of range", 13);
        return out;
    }
    auto put = [&](std::size_t at, std::int64_t value, std::size_t digits) {
        for (std::size_t i = digits; i > 0; --i, value /= 10) out.text[at + i - 1] = static_cast<char>('0' + value % 10);
    };
    __builtin_memcpy(out.text, "0000-00-00T00:00:00Z", 21);
    put(0, t.year, 4);
    put(5, t.month, 2);
    put(8, t.day, 2);
    put(11, t.hour, 2);
    put(14, t.minute, 2);
    put(17, t.second, 2);
    return out;
}

}  // namespace tandem
