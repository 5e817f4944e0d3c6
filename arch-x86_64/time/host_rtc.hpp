// Reads this machine's CMOS RTC (ports 0x70/0x71) for the guest's wall-clock start.
#pragma once

#include <cstdint>

#include "hypervisor/util/result.hpp"

namespace tandem::x86 {

// Unix seconds (UTC, as PCs running Linux keep the RTC) now, or why not.
Result<std::int64_t> read_host_rtc();

}  // namespace tandem::x86
