#include "hypervisor/devices/apic_timer.hpp"

#include "hypervisor/util/mul_div.hpp"

namespace tandem {
namespace {
constexpr std::uint8_t kDcrBits = 0x0b;
}  // namespace

ApicTimer::ApicTimer(std::uint64_t tsc_per_tick)
    : tsc_per_tick_(tsc_per_tick == 0               ? 1
                    : tsc_per_tick > kMaxTscPerTick ? kMaxTscPerTick
                                                    : tsc_per_tick) {}

unsigned ApicTimer::divisor() const {
    // Bits 0, 1 and 3 select 2, 4, 8, 16, 32, 64, 128 or 1 (SDM Figure 11-10).
    unsigned index = (dcr_ & 3u) | ((dcr_ >> 1) & 4u);
    return index == 7 ? 1 : 2u << index;
}

void ApicTimer::stop() {
    counting_ = false;
    anchor_tsc_ = 0;
    anchor_count_ = 0;
}

void ApicTimer::reset() {
    mode_ = Mode::one_shot;
    dcr_ = 0;
    initial_ = 0;
    deadline_ = 0;
    stop();
}

void ApicTimer::set_mode(Mode mode) {
    if ((mode == Mode::tsc_deadline) != (mode_ == Mode::tsc_deadline)) {
        initial_ = 0;
        deadline_ = 0;
        stop();
    }
    mode_ = mode;
}

std::uint64_t ApicTimer::elapsed_counts(std::uint64_t now) const {
    return now > anchor_tsc_ ? (now - anchor_tsc_) / tsc_per_count() : 0;
}

std::uint32_t ApicTimer::current_count(std::uint64_t now) const {
    if (!counting_) return 0;
    std::uint64_t t = elapsed_counts(now);
    if (t < anchor_count_) return static_cast<std::uint32_t>(anchor_count_ - t);
    if (mode_ != Mode::periodic) return 0;
    return static_cast<std::uint32_t>(initial_ - (t - anchor_count_) % initial_);
}

void ApicTimer::set_divide_config(std::uint8_t value, std::uint64_t now) {
    std::uint32_t current = current_count(now);
    dcr_ = value & kDcrBits;
    if (!counting_) return;
    if (current == 0) return stop();
    anchor_tsc_ = now;
    anchor_count_ = current;
}

void ApicTimer::set_initial_count(std::uint32_t count, std::uint64_t now) {
    if (mode_ == Mode::tsc_deadline) return;
    initial_ = count;
    if (count == 0) return stop();
    counting_ = true;
    anchor_tsc_ = now;
    anchor_count_ = count;
}

void ApicTimer::set_deadline(std::uint64_t tsc) {
    if (mode_ == Mode::tsc_deadline) deadline_ = tsc;
}

std::optional<std::uint64_t> ApicTimer::next_expiry() const {
    if (mode_ == Mode::tsc_deadline) {
        if (deadline_ == 0) return std::nullopt;
        return deadline_;
    }
    if (!counting_) return std::nullopt;
    return saturating_add(anchor_tsc_, anchor_count_ * tsc_per_count());
}

bool ApicTimer::expire(std::uint64_t now) {
    auto at = next_expiry();
    if (!at || now < *at) return false;
    if (mode_ == Mode::tsc_deadline) {
        deadline_ = 0;
    } else if (mode_ == Mode::one_shot) {
        stop();
    } else {
        std::uint64_t period = initial_ * tsc_per_count();
        std::uint64_t periods = (now - *at) / period;
        anchor_tsc_ = *at + periods * period;  // the last expiry at or before now
        anchor_count_ = initial_;
    }
    return true;
}

void ApicTimer::save(ByteWriter& out) const {
    out.put(static_cast<std::uint8_t>(mode_));
    out.put(dcr_);
    out.put(initial_);
    out.put<std::uint8_t>(counting_ ? 1 : 0);
    out.put(anchor_tsc_);
    out.put(anchor_count_);
    out.put(deadline_);
}

Status ApicTimer::load(ByteReader& in) {
    std::uint8_t mode = 0, dcr = 0, counting = 0;
    std::uint32_t initial = 0, anchor_count = 0;
    std::uint64_t anchor_tsc = 0, deadline = 0;
    if (!in.get(mode) || !in.get(dcr) || !in.get(initial) || !in.get(counting) || !in.get(anchor_tsc) ||
        !in.get(anchor_count) || !in.get(deadline)) {
        return Error::of("lapic0: truncated timer state");
    }
    if (mode > 2) return Error::of("lapic0: bad timer mode in state", mode);
    if ((dcr & ~kDcrBits) != 0) return Error::of("lapic0: bad divide configuration in state", dcr);
    if (counting > 1) return Error::of("lapic0: bad timer flag in state", counting);
    auto m = static_cast<Mode>(mode);
    if (counting == 1) {
        if (m == Mode::tsc_deadline || initial == 0 || anchor_count == 0 || anchor_count > initial) {
            return Error::of("lapic0: inconsistent timer count in state", anchor_count);
        }
    } else if (anchor_tsc != 0 || anchor_count != 0) {
        return Error::of("lapic0: stopped timer with a count in state", anchor_count);
    }
    if (m == Mode::tsc_deadline ? initial != 0 : deadline != 0) {
        return Error::of("lapic0: timer state mixes TSC-deadline and counting modes", deadline);
    }
    mode_ = m;
    dcr_ = dcr;
    initial_ = initial;
    counting_ = counting == 1;
    anchor_tsc_ = anchor_tsc;
    anchor_count_ = anchor_count;
    deadline_ = deadline;
    return success();
}

}  // namespace tandem
