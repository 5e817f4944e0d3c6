// The seams of the replication transport: where frames go out, what time it is, where
// messages are delivered. The NIC driver and the platform clock implement them on the machine;
// the host tests implement them with a simulated link and a simulated clock.
#pragma once

#include <cstdint>
#include <span>

#include "hypervisor/util/result.hpp"
#include "replication/link/frame_header.hpp"

namespace tandem::link {

// An unreliable frame channel: transmit() hands one complete Ethernet frame (no FCS) to the NIC,
// which copies it; frames may be lost, duplicated, reordered or corrupted on the way. Received
// frames are pushed into Transport::on_frame() by whoever polls the NIC. transmit() must not call
// back into the transport (queue, don't loop back synchronously). A refused frame (ring full)
// counts as lost: the transport retransmits.
class FrameChannel {
public:
    virtual Status transmit(std::span<const std::uint8_t> frame) = 0;

protected:
    ~FrameChannel() = default;
};

// Monotonic time in nanoseconds (the TSC on the machine, a variable in tests).
class Clock {
public:
    virtual std::uint64_t now_ns() = 0;

protected:
    ~Clock() = default;
};

struct Message {
    FrameType type;
    std::uint64_t epoch;
    std::uint64_t number;  // the message number: 1, 2, 3, ... in delivery order
    std::span<const std::uint8_t> payload;  // valid during the call only
};

// Receives each message exactly once, in the order sent. Called from Transport::on_frame(); it
// may call Transport::send().
class MessageSink {
public:
    virtual void on_message(const Message& message) = 0;

protected:
    ~MessageSink() = default;
};

}  // namespace tandem::link
