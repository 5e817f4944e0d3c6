#include "hypervisor/devices/acpi_pm_timer.hpp"

#include "hypervisor/util/mul_div.hpp"

namespace tandem {

AcpiPmTimer::AcpiPmTimer(GuestClock& clock, std::uint64_t tsc_hz) : clock_(clock), tsc_hz_(tsc_hz == 0 ? 1 : tsc_hz) {}

std::uint32_t AcpiPmTimer::value_at(std::uint64_t guest_tsc) const {
    return static_cast<std::uint32_t>(mul_div(guest_tsc, kFrequencyHz, tsc_hz_));
}

std::uint32_t AcpiPmTimer::read(std::uint16_t port, unsigned size) {
    unsigned offset = static_cast<unsigned>(port - kPort) & 3u;
    std::uint32_t value = value_at(clock_.guest_tsc()) >> (8 * offset);
    return size >= 4 ? value : value & ((1u << (8 * size)) - 1);
}

void AcpiPmTimer::save_state(ByteWriter& out) const { out.put(tsc_hz_); }

Status AcpiPmTimer::restore_state(std::uint16_t version, std::span<const std::uint8_t> in) {
    if (version != 1) return Error::of("pm-timer: unsupported state version", version);
    ByteReader r(in);
    std::uint64_t tsc_hz = 0;
    if (!r.get(tsc_hz)) return Error::of("pm-timer: truncated state");
    if (r.remaining() != 0) return Error::of("pm-timer: trailing bytes in state", r.remaining());
    if (tsc_hz == 0) return Error::of("pm-timer: zero TSC frequency in state");
    tsc_hz_ = tsc_hz;
    return success();
}

}  // namespace tandem
