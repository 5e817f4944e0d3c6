#include "replication/sessions/guest_throttle.hpp"

namespace tandem::sessions {

std::uint32_t GuestThrottle::step() {
    if (percent_ == 0) {
        percent_ = kFirstPercent;
    } else if (percent_ + kStepPercent < kMaxPercent) {
        percent_ += kStepPercent;
    } else {
        percent_ = kMaxPercent;
    }
    return percent_;
}

}  // namespace tandem::sessions
