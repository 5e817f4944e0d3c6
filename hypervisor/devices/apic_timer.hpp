// The local APIC timer (Intel SDM Vol. 3A §11.5.4): one-shot, periodic and TSC-deadline modes,
// counting on the guest TSC that the caller passes in.
//
// Time base (a choice of this model, fixed when it is built): the timer's input clock is the
// guest TSC divided by tsc_per_tick, and the divide configuration register divides that further,
// so one count of the current-count register lasts tsc_per_tick * divisor TSC cycles. CPUID leaf
// 0x15 should describe the same clock: crystal = TSC / tsc_per_tick (ECX = tsc_hz / tsc_per_tick,
// EBX/EAX = tsc_per_tick / 1), which is what Linux takes as the APIC timer frequency.
//
// A running count is kept as (anchor TSC, count at the anchor), so the current count is computed
// from the guest TSC when it is read and nothing needs to tick. Periods missed while nobody asked
// (the guest did not run) fire once, as a single IRR bit would hold them anyway.
#pragma once

#include <cstdint>
#include <optional>

#include "hypervisor/util/byte_stream.hpp"
#include "hypervisor/util/result.hpp"

namespace tandem {

class ApicTimer {
public:
    enum class Mode : std::uint8_t { one_shot = 0, periodic = 1, tsc_deadline = 2 };
    static constexpr std::uint64_t kMaxTscPerTick = 1ull << 24;  // keeps count * divisor * this below 2^63

    // tsc_per_tick is clamped to [1, kMaxTscPerTick].
    explicit ApicTimer(std::uint64_t tsc_per_tick);

    std::uint64_t tsc_per_tick() const { return tsc_per_tick_; }
    Mode mode() const { return mode_; }
    // From the LVT timer entry. Switching into or out of TSC-deadline mode disarms the timer
    // (SDM §11.5.4.1); between one-shot and periodic a running count goes on.
    void set_mode(Mode mode);

    // The divide configuration register as written (bits 0, 1 and 3; the caller checks the rest).
    // A running count keeps its value and goes on at the new rate.
    std::uint8_t divide_config() const { return dcr_; }
    void set_divide_config(std::uint8_t value, std::uint64_t now);
    unsigned divisor() const;

    std::uint32_t initial_count() const { return initial_; }
    // Starts (non-zero) or stops (zero) the count; ignored in TSC-deadline mode.
    void set_initial_count(std::uint32_t count, std::uint64_t now);
    std::uint32_t current_count(std::uint64_t now) const;

    // IA32_TSC_DEADLINE: reads 0 unless armed in TSC-deadline mode; writes outside that mode are
    // ignored, 0 disarms (SDM §11.5.4.1).
    std::uint64_t deadline() const { return deadline_; }
    void set_deadline(std::uint64_t tsc);

    // Handles every expiry at or before now: true if the timer fired. One-shot and deadline
    // timers disarm; a periodic one re-arms for its next period after now.
    bool expire(std::uint64_t now);
    // The guest TSC at which the timer fires next, if it is armed.
    std::optional<std::uint64_t> next_expiry() const;

    void reset();
    void save(ByteWriter& out) const;
    // Reads what save() wrote and checks it; on failure the timer is unchanged.
    Status load(ByteReader& in);

private:
    std::uint64_t tsc_per_count() const { return tsc_per_tick_ * divisor(); }
    std::uint64_t elapsed_counts(std::uint64_t now) const;
    void stop();

    std::uint64_t tsc_per_tick_;
    Mode mode_ = Mode::one_shot;
    std::uint8_t dcr_ = 0;
    std::uint32_t initial_ = 0;
    bool counting_ = false;
    std::uint64_t anchor_tsc_ = 0;
    std::uint32_t anchor_count_ = 0;  // the current count at anchor_tsc_ (1..initial_ while counting)
    std::uint64_t deadline_ = 0;
};

}  // namespace tandem
