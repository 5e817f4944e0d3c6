#include "arch-x86_64/time/host_rtc.hpp"

#include "arch-x86_64/cpu/intrinsics.hpp"
#include "hypervisor/devices/cmos_clock_reading.hpp"

namespace tandem::x86 {
namespace {

constexpr std::uint16_t kIndexPort = 0x70, kDataPort = 0x71;
constexpr std::uint8_t kStatusA = 0x0a, kStatusB = 0x0b;
constexpr std::uint8_t kUpdateInProgress = 0x80;  // status A bit 7: registers about to change

std::uint8_t read_register(std::uint8_t index) {
    outb(kIndexPort, index);  // bit 7 (the NMI mask on PCs) left clear, as Linux does
    return inb(kDataPort);
}

CmosClockRegisters read_registers() {
    return {read_register(0x00), read_register(0x02), read_register(0x04), read_register(0x07),
            read_register(0x08), read_register(0x09), read_register(0x32), read_register(kStatusB)};
}

bool same(const CmosClockRegisters& a, const CmosClockRegisters& b) {
    return a.second == b.second && a.minute == b.minute && a.hour == b.hour && a.day == b.day && a.month == b.month &&
           a.year == b.year && a.century == b.century && a.status_b == b.status_b;
}

}  // namespace

Result<std::int64_t> read_host_rtc() {
    // Read outside an update cycle, and twice the same (an update may begin between the check
    // and the reads); a bounded number of tries, as a dead RTC may show UIP forever.
    for (int attempt = 0; attempt < 1000; ++attempt) {
        if (read_register(kStatusA) & kUpdateInProgress) {
            pause();
            continue;
        }
        CmosClockRegisters first = read_registers();
        if (read_register(kStatusA) & kUpdateInProgress) continue;
        CmosClockRegisters second = read_registers();
        if (same(first, second)) return cmos_clock_to_unix(second);
    }
    return Error::of("host RTC: always updating (no stable reading in 1000 tries)");
}

}  // namespace tandem::x86
