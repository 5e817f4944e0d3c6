// The receiver's half of reliable delivery (DESIGN.md §4): messages held until every one before
// them arrived, delivered exactly once and in order, and the acknowledgement that describes what
// is held (a cumulative ack and a selective-ack bitmap, frame_header.hpp).
//
// Message numbers start at 1. Up to kSize messages beyond the last delivered one are held (no
// sender may have more in flight); a message at or below delivered(), or one already held, is a
// duplicate (the sender retransmitted: its ack was lost, and the ack must go again at once).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "replication/link/frame.hpp"
#include "replication/link/link_interfaces.hpp"
#include "replication/link/transport_config.hpp"

namespace tandem::link {

class ReceiveWindow {
public:
    static constexpr std::size_t kSize = kMaxWindow;

    enum class Arrival : std::uint8_t {
        fresh,          // not seen before and inside the window: store() it
        duplicate,      // delivered or held already
        beyond_window,  // further ahead than any sender's window: a protocol error
    };

    // Where a stored message went.
    struct Stored {
        std::span<std::uint8_t> payload;  // its slot: the caller writes the payload (decrypted) here
        bool in_order = false;            // the next one to deliver: ready() holds
        bool new_hole = false;            // above everything held so far, skipping messages
    };

    void reset();

    Arrival classify(std::uint64_t m) const;
    // Holds message m (classify(m) said fresh) of `length` bytes (at most kMaxPayload).
    Stored store(std::uint64_t m, FrameType type, std::uint64_t epoch, std::size_t length);

    // The next message in order is held.
    bool ready() const;
    // Takes it (ready() must hold): its number is delivered() from now on, and the slot is free
    // before the caller delivers it, so a send() from the message sink sees a consistent ack.
    // The payload stays valid until the next store().
    Message take();

    // Every message <= delivered() has been delivered: the cumulative ack.
    std::uint64_t delivered() const { return delivered_; }
    // Bit i: message delivered() + 2 + i is held (i < kSize - 1; message delivered() + 1 is the
    // hole that keeps the rest waiting, or nothing is held).
    std::uint64_t ack_bitmap() const;

private:
    struct Slot {
        std::uint64_t epoch = 0;
        std::uint16_t length = 0;
        FrameType type = FrameType::data;
        bool filled = false;
        std::uint8_t payload[kMaxPayload];
    };

    Slot& slot(std::uint64_t m) { return slots_[m % kSize]; }
    const Slot& slot(std::uint64_t m) const { return slots_[m % kSize]; }

    std::uint64_t delivered_ = 0;
    std::uint64_t highest_received_ = 0;
    Slot slots_[kSize];
};

}  // namespace tandem::link
