// The rate and the time left of a long operation, for its progress lines (issue 16: "progress
// lines with rate and remaining time"; the join's full copy on both machines). The rate is
// measured over the interval between two progress lines, so it follows the link and the guest
// as they change; before a second line it is unknown and said so.
#pragma once

#include <cstdint>

#include "hypervisor/console/writer.hpp"
#include "hypervisor/util/mul_div.hpp"

namespace tandem::engine {

class ProgressRate {
public:
    // `done` units at `now`, a clock with `clock_hz` units per second.
    void sample(std::uint64_t now, std::uint64_t done, std::uint64_t clock_hz) {
        if (sampled_ && now > last_now_ && done >= last_done_) {
            per_second_ = mul_div_full(done - last_done_, clock_hz, now - last_now_).quotient;
            known_ = true;
        }
        sampled_ = true;
        last_now_ = now;
        last_done_ = done;
    }
    bool known() const { return known_; }
    std::uint64_t per_second() const { return per_second_; }

    // " (R UNIT/s, about S s left)", " (R UNIT/s)" while nothing moves, or " (rate not known yet)".
    void print(Writer& out, std::uint64_t remaining, const char* unit) const {
        if (!known_) {
            tandem::print(out, " (rate not known yet)");
        } else if (per_second_ == 0) {
            tandem::print(out, " (0 {}/s)", unit);
        } else {
            tandem::print(out, " ({} {}/s, about {} s left)", per_second_, unit, (remaining + per_second_ - 1) / per_second_);
        }
    }

private:
    bool sampled_ = false, known_ = false;
    std::uint64_t last_now_ = 0, last_done_ = 0, per_second_ = 0;
};

}  // namespace tandem::engine
