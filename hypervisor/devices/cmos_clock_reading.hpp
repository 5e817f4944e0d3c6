// The time the machine's own CMOS RTC shows, as Unix seconds: the guest's RTC starts from it (a
// guest whose wall clock starts in 1970 logs and serves with a wrong date). Portable: the
// registers come from arch-x86_64/time/host_rtc.cpp, which reads them through ports 0x70/0x71.
#pragma once

#include <cstdint>

#include "hypervisor/util/result.hpp"

namespace tandem {

// The time registers as read (MC146818: seconds 0x00, minutes 0x02, hours 0x04, day 0x07,
// month 0x08, year 0x09, status B 0x0b; century 0x32, an IBM PC convention, 0 if unknown).
struct CmosClockRegisters {
    std::uint8_t second, minute, hour, day, month, year, century, status_b;
};

// Status B bit 2 set: binary values, else BCD; bit 1 set: 24-hour, else 12-hour with bit 7 of
// the hour register meaning PM. The century register is used when it holds 19 or 20 (BCD or
// binary as the rest); otherwise a year below 70 is taken as 20xx. An impossible date or time
// is refused: the RTC is unset or broken, and the caller says so.
Result<std::int64_t> cmos_clock_to_unix(const CmosClockRegisters& r);

// "2026-11-22T09:41:07Z" for the console (years 0-9999; others print as "out of range").
struct Iso8601 {
    char text[21];
};
Iso8601 iso8601(std::int64_t unix_seconds);

}  // namespace tandem
