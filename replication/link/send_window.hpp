// The sender's half of reliable delivery (DESIGN.md §4): message numbers, the sliding window of
// up to kMaxWindow messages, and the cumulative and selective acknowledgements (RFC 6675 §2's
// scoreboard, counted in messages) that retire them.
//
// Messages acked < m < snd_nxt have been transmitted and wait for an ack; snd_nxt <= m < next_msg
// are accepted and queued (the congestion window, congestion_control.hpp, decides when they go).
// A slot is "sacked" when the peer holds it above a hole, "lost" when presumed lost and not
// resent since. What counts as lost, and when anything is sent, is not decided here.
//
// An ack names the highest message the peer holds with all before it (`ack`) and, in bit i of
// `bitmap`, message ack + 2 + i (frame_header.hpp). An ack at or beyond snd_nxt acknowledges
// something never sent: the peer is broken or lying, and the ack is refused whole.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "replication/link/frame.hpp"
#include "replication/link/transport_config.hpp"

namespace tandem::link {

struct SendSlot {
    std::uint64_t msg = 0;
    std::uint64_t epoch = 0;
    std::uint64_t first_sent_ns = 0;
    std::uint64_t last_sent_ns = 0;
    std::uint64_t first_seq = 0;  // frame sequence numbers of the first and the last transmission
    std::uint64_t last_seq = 0;
    std::uint32_t transmissions = 0;  // 0: accepted, waiting for the congestion window
    std::uint16_t length = 0;
    FrameType type = FrameType::data;
    bool in_use = false;
    bool sacked = false;
    bool lost = false;  // presumed lost and not retransmitted since
    bool lost_by_timeout = false;
    std::uint8_t payload[kMaxPayload];

    std::span<const std::uint8_t> bytes() const { return {payload, length}; }
    // One more transmission, in the frame with sequence number `seq` at `now`.
    void record_transmission(std::uint64_t seq, std::uint64_t now);
};

class SendWindow {
public:
    static constexpr std::size_t kSize = kMaxWindow;

    enum class AckResult : std::uint8_t {
        invalid,       // acknowledges a message never sent: nothing was changed
        no_progress,   // the cumulative ack did not advance (selective acks may have)
        progress,      // the cumulative ack advanced
    };

    void reset();

    // Accepts a message as number next_msg(), queued. False (and nothing changed) when kSize
    // messages are in flight or the payload is larger than any frame carries.
    [[nodiscard]] bool accept(FrameType type, std::uint64_t epoch, std::span<const std::uint8_t> payload);
    bool has_queued() const { return snd_nxt_ < next_msg_; }
    // The oldest queued message, now counted as transmitted; has_queued() must hold.
    SendSlot& take_queued();

    // Message m when it is transmitted and not yet cumulatively acknowledged, else null.
    SendSlot* outstanding(std::uint64_t m);
    const SendSlot* outstanding(std::uint64_t m) const;
    // The newest outstanding message the peer has not selectively acked (a probe resends it).
    SendSlot* newest_unsacked();

    void mark_lost(SendSlot& slot, bool by_timeout);
    // A lost message is being resent: no longer counted as lost.
    void clear_lost(SendSlot& slot);

    // Applies a cumulative ack and a selective-ack bitmap. `on_delivered(const SendSlot&)` is
    // called for every message this ack newly shows as arrived (not for one sacked before), in
    // message order for the cumulative part and then for the bitmap, while the slot still holds
    // the message and after the scoreboard counted it.
    template <class OnDelivered>
    AckResult apply_ack(std::uint64_t ack, std::uint64_t bitmap, OnDelivered&& on_delivered);

    std::uint64_t next_msg() const { return next_msg_; }
    std::uint64_t snd_nxt() const { return snd_nxt_; }
    std::uint64_t acked() const { return acked_; }
    // Accepted and not yet acknowledged (queued ones included).
    std::size_t in_flight() const { return static_cast<std::size_t>(next_msg_ - 1 - acked_); }
    std::size_t queued() const { return static_cast<std::size_t>(next_msg_ - snd_nxt_); }
    // Transmitted and not cumulatively acknowledged.
    std::uint32_t flight() const { return static_cast<std::uint32_t>(snd_nxt_ - 1 - acked_); }
    bool any_outstanding() const { return acked_ + 1 < snd_nxt_; }
    bool acked_everything() const { return acked_ + 1 == next_msg_; }
    std::uint32_t sacked_count() const { return sacked_count_; }
    std::uint32_t lost_count() const { return lost_count_; }
    // Messages in the network (RFC 6675 "pipe"): transmitted, not acknowledged, not presumed lost.
    std::uint32_t pipe() const { return flight() - sacked_count_ - lost_count_; }

    // Outstanding messages numbered above `msg` that the peer selectively acked.
    std::uint32_t sacked_after(std::uint64_t msg) const;
    // The first-transmission sequence number of the n-th newest sacked message, 0 when fewer
    // than n are sacked (first transmissions go out in message order: the n-th highest numbered).
    std::uint64_t nth_newest_sacked_seq(std::uint32_t n) const;

private:
    SendSlot& slot(std::uint64_t m) { return slots_[m % kSize]; }
    const SendSlot& slot(std::uint64_t m) const { return slots_[m % kSize]; }
    void mark_sacked(SendSlot& s);

    std::uint64_t next_msg_ = 1;
    std::uint64_t snd_nxt_ = 1;
    std::uint64_t acked_ = 0;  // cumulative: the peer has every message <= acked_
    std::uint32_t sacked_count_ = 0;  // outstanding slots with sacked set
    std::uint32_t lost_count_ = 0;    // outstanding slots with lost set
    SendSlot slots_[kSize];
};

template <class OnDelivered>
SendWindow::AckResult SendWindow::apply_ack(std::uint64_t ack, std::uint64_t bitmap, OnDelivered&& on_delivered) {
    if (ack >= snd_nxt_) return AckResult::invalid;
    bool progress = false;
    while (acked_ < ack) {
        ++acked_;
        SendSlot& s = slot(acked_);
        if (s.in_use && s.msg == acked_) {
            if (s.sacked) {
                --sacked_count_;
            } else {
                on_delivered(static_cast<const SendSlot&>(s));
            }
            if (s.lost) --lost_count_;
            s.in_use = s.sacked = s.lost = false;
        }
        progress = true;
    }
    for (std::uint64_t i = 0; i < 64 && bitmap != 0; ++i) {
        if ((bitmap >> i & 1u) == 0) continue;
        const std::uint64_t m = ack + 2 + i;
        if (m >= snd_nxt_) break;
        if (m <= acked_) continue;
        SendSlot& s = slot(m);
        if (s.in_use && s.msg == m && !s.sacked) {
            mark_sacked(s);
            on_delivered(static_cast<const SendSlot&>(s));
        }
    }
    return progress ? AckResult::progress : AckResult::no_progress;
}

}  // namespace tandem::link
