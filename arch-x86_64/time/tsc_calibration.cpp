#include "arch-x86_64/time/tsc_calibration.hpp"

#include "arch-x86_64/cpu/intrinsics.hpp"

namespace tandem::x86 {
namespace {

constexpr std::uint16_t kPitChannel2 = 0x42, kPitCommand = 0x43, kSpeakerControl = 0x61;
constexpr std::uint32_t kPitHz = 1193182;
constexpr std::uint32_t kWindowMs = 10;
constexpr std::uint16_t kCount = kPitHz * kWindowMs / 1000;
static_assert(kCount == 11931);
// Give up if OUT2 has not risen within this many TSC ticks of the expected end (the PIT is
// missing or not counting): 100x the window at 10 GHz.
constexpr std::uint64_t kGiveUpTicks = 10'000'000'000ull;

std::uint64_t measure_once() {
    // Gate off, speaker off; channel 2, lobyte/hibyte, mode 0 (interrupt on terminal count).
    std::uint8_t ctl = inb(kSpeakerControl);
    outb(kSpeakerControl, static_cast<std::uint8_t>(ctl & ~0x03));
    outb(kPitCommand, 0xb0);
    outb(kPitChannel2, kCount & 0xff);
    outb(kPitChannel2, kCount >> 8);
    // Raising the gate starts the count; OUT2 (port 0x61 bit 5) goes high at terminal count.
    outb(kSpeakerControl, static_cast<std::uint8_t>((ctl & ~0x02) | 0x01));
    std::uint64_t start = rdtsc();
    while (!(inb(kSpeakerControl) & 0x20)) {
        if (rdtsc() - start > kGiveUpTicks) return 0;
    }
    std::uint64_t ticks = rdtsc() - start;
    outb(kSpeakerControl, ctl);
    return ticks / kWindowMs;  // ticks per millisecond = kHz
}

}  // namespace

std::uint64_t calibrate_tsc_khz() {
    std::uint64_t best = 0;
    for (int i = 0; i < 3; ++i) {
        std::uint64_t khz = measure_once();
        if (khz == 0) return 0;
        // The smallest is the one least stretched by anything that delayed our polling.
        if (best == 0 || khz < best) best = khz;
    }
    return best;
}

}  // namespace tandem::x86
