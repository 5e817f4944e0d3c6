// When the receiver acknowledges (DESIGN.md §4): every sequenced frame carries the ack, so the
// question is only when a frame must go for the ack alone (ACK, or NACK when it shows a new hole).
//
//  - after ack_every messages since the last frame out, or once an ack has waited timeout();
//  - at once for a duplicate (the sender retransmitted: our ack was lost);
//  - at once for a new hole (messages skipped), as a NACK, at most one per nack_interval; the
//    caller first sends what its own window allows, so the ack usually rides on data.
//
// timeout() follows the pace messages arrive at: ack_delay, or the time ack_every messages take
// to arrive, whichever is longer (at most kMaxAckTimeoutRtos min_rto, inside the peer's RTO). On
// a path that delivers a frame per millisecond a fixed sub-millisecond delay would send a pure
// ack for every message: with data both ways, those acks take half of each direction.
#pragma once

#include <cstdint>

#include "replication/link/transport_config.hpp"

namespace tandem::link {

class AckSchedule {
public:
    static constexpr std::uint64_t kMaxAckTimeoutRtos = 4;  // the ack timeout never exceeds 4 min_rto

    void reset(std::uint32_t ack_every, const TransportTiming& timing);

    // A sequenced frame left: it carried the ack.
    void carried();
    void on_duplicate() { ack_now_ = true; }
    // A new message was stored at `now`.
    void on_message(std::uint64_t now);
    // The message stored at `now` opened a new hole.
    void on_new_hole(std::uint64_t now);

    // An ack must go now; `timer` when called from the poll (the ack timeout counts only then).
    bool due(bool timer, std::uint64_t now) const;
    // The ack due shows a new hole: a NACK if it must go alone.
    bool nack_due() const { return nack_now_; }
    std::uint64_t timeout() const;
    std::uint64_t arrival_gap_ns() const { return arrival_gap_ns_; }

private:
    std::uint32_t ack_every_ = 1;
    TransportTiming timing_{};
    bool ack_pending_ = false;
    bool ack_now_ = false;
    bool nack_now_ = false;
    std::uint32_t unacked_messages_ = 0;
    std::uint64_t ack_pending_since_ns_ = 0;
    std::uint64_t last_arrival_ns_ = 0;  // of the last new message
    std::uint64_t arrival_gap_ns_ = 0;   // moving average of the gaps between new messages
    bool nack_sent_ = false;
    std::uint64_t last_nack_ns_ = 0;
};

}  // namespace tandem::link
