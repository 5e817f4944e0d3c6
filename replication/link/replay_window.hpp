// Anti-replay window over frame sequence numbers (the scheme of IPsec ESP, RFC 4303 §3.4.3):
// remembers the highest sequence number accepted and which of the kSize below it were seen.
// A frame is fresh when its number is above the highest, or inside the window and not yet
// seen. Only authenticated frames may be recorded (check the tag first), or a forger could
// advance the window and make the real frames look old.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tandem::link {

class ReplayWindow {
public:
    static constexpr std::uint64_t kSize = 256;

    void reset() {
        highest_ = 0;
        for (auto& w : seen_) w = 0;
    }

    // Sequence number 0 is never valid.
    bool fresh(std::uint64_t seq) const {
        if (seq == 0) return false;
        if (seq > highest_) return true;
        std::uint64_t age = highest_ - seq;
        if (age >= kSize) return false;
        return !test(seq);
    }

    // Records seq as seen; the caller checked fresh(seq).
    void record(std::uint64_t seq) {
        if (seq > highest_) {
            std::uint64_t shift = seq - highest_;
            if (shift >= kSize) {
                for (auto& w : seen_) w = 0;
            } else {
                // Forget the numbers that fall out of the window.
                for (std::uint64_t s = highest_ + 1; s <= seq; ++s) clear(s);
            }
            highest_ = seq;
        }
        set(seq);
    }

    std::uint64_t highest() const { return highest_; }

private:
    // The bit of seq is seq mod kSize: a ring, cleared as the window slides over it.
    bool test(std::uint64_t seq) const { return (seen_[index(seq)] >> bit(seq) & 1u) != 0; }
    void set(std::uint64_t seq) { seen_[index(seq)] |= std::uint64_t{1} << bit(seq); }
    void clear(std::uint64_t seq) { seen_[index(seq)] &= ~(std::uint64_t{1} << bit(seq)); }
    static std::size_t index(std::uint64_t seq) { return static_cast<std::size_t>((seq % kSize) / 64); }
    static unsigned bit(std::uint64_t seq) { return static_cast<unsigned>(seq % 64); }

    std::uint64_t highest_ = 0;
    std::uint64_t seen_[kSize / 64]{};
};

}  // namespace tandem::link
