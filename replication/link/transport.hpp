// The replication transport (DESIGN.md §4): reliable, in-order, exactly-once delivery of
// messages (each up to one frame's payload) over an unreliable, authenticated frame channel.
//
//  - Handshake: HELLO / HELLO_ACK (hello.hpp) agree on version, role, guest memory, page size,
//    features, key and MTU; any mismatch refuses the link on both sides with a clear reason.
//  - Every frame has a fresh sequence number (the nonce; anti-replay window of 256 frames).
//    A message has its own number; a retransmission is a new frame carrying the same message.
//  - Sliding send window of up to 64 messages. Every frame carries a cumulative ack and a 64-bit
//    selective-ack bitmap. The receiver buffers out-of-order messages (up to 64 ahead), acks
//    after ack_every messages or an ack delay that follows the pace messages arrive at, at once
//    for a duplicate, and shows a new hole at once (on the next frame out, else in a NACK).
//  - Congestion control, counted in messages (RFC 5681, RFC 6675): send() accepts up to
//    `window` messages; they go on the wire as the congestion window allows. Slow start from
//    initial_cwnd, then one more per window acknowledged, never above `window`. The path's
//    queue is watched (the least RTT of each round against the least ever): while a queue of a
//    minimum RTT or more stands, the window stops growing, so a slow, queueing path (an
//    emulator delivering one frame per millisecond into a socket buffer) is kept busy without
//    a queue that grows to the window; and a loss found by acks then halves the window (once per
//    window of data), as does a burst of losses (over an eighth of the flight: a shallow buffer
//    overflowing). Any other loss is damage, not congestion (a flipped bit on a dedicated cable):
//    resent, no slow-down. A fast path is limited by the window only.
//  - Loss detection: a message is lost when dupthresh messages sent after it were selectively
//    acked (3, RFC 6675; raised to the reordering the link shows), or when a message sent after
//    it was acked and a reordering allowance has passed beyond that one's round trip (RACK, RFC
//    8985: also finds lost retransmissions). When acks stop while messages are out, one probe
//    after two RTTs draws an ack (tail loss probe, RFC 8985 §7). Lost messages are resent first.
//  - Retransmission timeout, the last resort: one timer (RFC 6298) on the oldest message, RTO
//    from SRTT/RTTVAR, Karn's rule (no sample from an ack covering a retransmitted message),
//    exponential backoff to max_rto kept until the next valid sample (§5.5-5.7). On expiry
//    every unacked message is presumed lost and resent from a congestion window of one, so a
//    spurious timeout (a queue grew past the RTO) costs a few frames, not a window: the acks of
//    the originals, still on their way, clear the rest and give valid samples.
//  - No wire-format change was needed for any of this (protocol version 1).
//  - Duplicates (a message received again) are dropped and re-acked; replays (a frame whose
//    sequence number was seen or is older than the window) are dropped and counted.
//  - HEARTBEAT when nothing was sent for heartbeat_interval; the peer is "silent" when nothing
//    authenticated arrived for silence_timeout.
//
// Single-threaded and polled: the owner calls on_frame() for each received frame and poll()
// regularly (timers, queued messages). Memory: about 1.2 MB (64 send + 64 receive slots of jumbo
// size); place the object in static storage on the machine, never on the stack.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "hypervisor/config/vocabulary.hpp"
#include "hypervisor/console/writer.hpp"
#include "hypervisor/util/result.hpp"
#include "replication/crypto/crypto_types.hpp"
#include "replication/link/frame.hpp"
#include "replication/link/hello.hpp"
#include "replication/link/link_interfaces.hpp"
#include "replication/link/link_keys.hpp"
#include "replication/link/replay_window.hpp"

namespace tandem::link {

struct TransportTiming {
    std::uint64_t hello_interval_ns = 50'000'000;     // HELLO repeat while connecting
    std::uint64_t heartbeat_interval_ns = 5'000'000;  // HEARTBEAT after this long without sending
    std::uint64_t silence_timeout_ns = 300'000'000;   // peer silent after this long unheard
    std::uint64_t initial_rto_ns = 20'000'000;        // before the first RTT sample
    std::uint64_t min_rto_ns = 1'000'000;
    std::uint64_t max_rto_ns = 200'000'000;           // cap of the backoff: bounds recovery after a partition
    std::uint64_t ack_delay_ns = 500'000;             // a pure ACK this long after data at the latest, or,
                                                      // when messages arrive slowly, after ack_every of their
                                                      // gaps (at most 4 min_rto; transport.cpp ack_timeout())
    std::uint64_t nack_interval_ns = 1'000'000;       // at most one NACK per interval
};

struct TransportConfig {
    Role role = Role::primary;
    std::uint64_t session_id = 0;  // nonzero and unpredictable, new at every start (RDRAND/TSC)
    MacAddress local_mac{};
    bool has_peer_mac = false;     // else HELLO goes to broadcast and the peer's MAC is learnt
    MacAddress peer_mac{};
    std::uint16_t mtu = kStandardMtu;  // what this side's NIC receives: 1500..9000
    std::uint64_t guest_memory = 0;
    std::uint32_t page_size = 4096;
    std::uint64_t features = 0;
    std::uint32_t window = 64;     // messages accepted and not yet acknowledged, 1..64
    std::uint32_t initial_cwnd = 10;  // congestion window at the start (RFC 6928), 1..64
    std::uint32_t ack_every = 4;   // a pure ACK after this many unacknowledged messages
    TransportTiming timing{};
    std::uint8_t protocol_version = kProtocolVersion;  // only tests change this
};

struct TransportStats {
    std::uint64_t frames_sent = 0;          // every frame handed to the channel
    std::uint64_t frames_received = 0;      // authenticated, fresh frames accepted
    std::uint64_t messages_sent = 0;        // first transmissions (send() may queue a message first)
    std::uint64_t messages_delivered = 0;
    std::uint64_t retransmissions = 0;      // every resend: after a timeout, a loss found by acks, a probe
    std::uint64_t fast_retransmissions = 0; // resends not caused by a timeout
    std::uint64_t timeouts = 0;             // retransmission timer expiries
    std::uint64_t recoveries = 0;           // losses found by acks while a queue stood: window halved
    std::uint64_t lost_marked = 0;          // messages presumed lost (by acks or a timeout)
    std::uint64_t probes = 0;               // tail loss probes (a retransmission or a message sent early)
    std::uint64_t spurious_retransmissions = 0;  // acked too soon after a retransmission: the first copy arrived
    std::uint64_t duplicates = 0;           // messages received again (dropped, re-acked)
    std::uint64_t rejected_bad_tag = 0;     // authentication (or checksum) failed
    std::uint64_t rejected_replay = 0;      // sequence number seen before or below the window
    std::uint64_t rejected_malformed = 0;   // decode_frame() refused it, or a policy violation
    std::uint64_t rejected_session = 0;     // not from the peer's current session
    std::uint64_t rejected_source = 0;      // from a MAC address other than the peer's
    std::uint64_t ignored = 0;              // not for us: other EtherType or destination, our own echo
    std::uint64_t acks_sent = 0;
    std::uint64_t nacks_sent = 0;
    std::uint64_t heartbeats_sent = 0;
    std::uint64_t hellos_sent = 0;
    std::uint64_t tx_errors = 0;            // the channel refused a frame
    std::uint64_t protocol_errors = 0;      // authenticated frames with impossible acks
    std::uint64_t peer_hellos_after_established = 0;  // a new peer session (restart) was seen
    std::uint64_t rejects[kRejectReasonCount] = {};   // decode_frame() refusals by reason
};

class Transport {
public:
    static constexpr std::size_t kMaxWindow = 64;
    enum class State : std::uint8_t { idle, connecting, established, refused };

    Transport(FrameChannel& channel, Clock& clock, MessageSink& sink) : channel_(channel), clock_(clock), sink_(sink) {}
    Transport(const Transport&) = delete;
    Transport& operator=(const Transport&) = delete;

    // Validates the configuration, resets all state and sends the first HELLO.
    Status start(const TransportConfig& config, const LinkSecret& secret);

    // One received Ethernet frame (without FCS). Everything is validated; nothing is trusted.
    void on_frame(std::span<const std::uint8_t> frame);

    // Timers: HELLO repeats, retransmissions, delayed ACKs, heartbeats. Call often (every
    // receive-poll round on the machine).
    void poll();

    // Accepts one message into the window and transmits it as soon as the congestion window
    // allows (at once, or from on_frame()/poll() as acks arrive). Fails when the link is not
    // established, the window is full (check can_send()), the type is not a message type or the
    // payload is too large.
    Status send(FrameType type, std::uint64_t epoch, std::span<const std::uint8_t> payload);
    bool can_send() const;
    // Messages accepted by send() and not yet acknowledged (queued ones included).
    std::size_t in_flight() const { return static_cast<std::size_t>(next_msg_ - 1 - acked_); }
    // Accepted messages not transmitted yet (waiting for the congestion window).
    std::size_t queued() const { return static_cast<std::size_t>(next_msg_ - snd_nxt_); }
    std::size_t max_message_size() const { return max_payload_for_mtu(link_mtu_); }

    State state() const { return state_; }
    bool established() const { return state_ == State::established; }
    // Set when state() is refused.
    const HandshakeFailure* refusal() const { return state_ == State::refused ? &refusal_ : nullptr; }
    Error refusal_error() const { return handshake_error(refusal_); }

    // Nothing authenticated from the peer for silence_timeout (since start, before the first).
    bool peer_silent() const;
    std::uint64_t last_heard_ns() const { return last_heard_ns_; }

    const TransportStats& stats() const { return stats_; }
    const HandshakeParams& peer_params() const { return peer_params_; }
    std::uint64_t peer_session() const { return peer_session_; }
    std::uint16_t link_mtu() const { return link_mtu_; }
    bool acked_everything() const { return acked_ + 1 == next_msg_; }

    // Congestion control and round-trip state (for reports, tests and benchmarks).
    std::uint32_t cwnd() const { return cwnd_; }
    std::uint32_t ssthresh() const { return ssthresh_; }
    std::uint64_t srtt_ns() const { return srtt_ns_; }
    std::uint64_t min_rtt_ns() const { return min_rtt_ns_; }
    std::uint64_t rto_ns() const { return current_rto(); }

    // Human-readable state and counters, one "link: ..." line each.
    void report(Writer& w) const;

private:
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
    };
    struct RecvSlot {
        std::uint64_t epoch = 0;
        std::uint16_t length = 0;
        FrameType type = FrameType::data;
        bool filled = false;
        std::uint8_t payload[kMaxPayload];
    };

    void reset();
    std::uint64_t now() const { return clock_.now_ns(); }
    bool insecure() const { return secret_.insecure; }

    // Sending.
    void transmit(FrameHeader h, std::span<const std::uint8_t> payload, bool checksum_only, const MacAddress* dst);
    void transmit_message(SendSlot& slot);
    void retransmit(SendSlot& slot);
    void send_queued();
    std::uint32_t pipe() const;
    void mark_lost(SendSlot& slot, bool by_timeout);
    void restart_rto_timer();
    void send_control(FrameType type);
    void send_hello();
    void send_hello_ack(const HelloAck& ack, const MacAddress& dst);
    std::uint64_t ack_bitmap() const;

    // Receiving.
    void on_version_mismatch(const DecodedFrame& frame, std::span<const std::uint8_t> bytes, std::uint8_t version);
    void on_hello(const DecodedFrame& frame);
    void on_hello_ack(const DecodedFrame& frame);
    void on_keyed_frame(const DecodedFrame& frame);
    void on_message_frame(const DecodedFrame& frame);
    void process_acks(std::uint64_t ack, std::uint64_t bitmap);
    void newly_delivered(SendSlot& slot, std::uint64_t t, std::uint64_t& sample_sent_ns, std::uint64_t& newest_sent_ns);
    void detect_losses();
    void enter_recovery();
    void on_retransmission_timeout();
    void grow_cwnd(std::uint32_t acked_messages);
    std::uint64_t reordering_window() const;
    std::uint64_t probe_timeout() const;
    void send_probe();
    void accept_peer(const DecodedFrame& frame, const HandshakeParams& params);
    void become_established();
    void refuse(const HandshakeFailure& failure, const MacAddress& reply_to, std::uint64_t echo_session);
    void rtt_sample(std::uint64_t sample_ns);
    void delay_sample(std::uint64_t sample_ns);
    std::uint64_t current_rto() const;
    void flush_acks(bool timer);
    std::uint64_t ack_timeout() const;
    void note_arrival();

    FrameChannel& channel_;
    Clock& clock_;
    MessageSink& sink_;

    TransportConfig config_{};
    LinkSecret secret_{};
    HandshakeParams local_params_{};
    State state_ = State::idle;
    TransportStats stats_{};

    // Handshake and keys.
    bool peer_accepted_ = false;       // we accepted a HELLO from peer_session_
    std::uint64_t peer_session_ = 0;
    std::uint64_t confirmed_session_ = 0;  // a verified accepting HELLO_ACK came from this session
    HandshakeParams peer_params_{};
    HandshakeFailure refusal_{};
    bool have_peer_mac_ = false;
    MacAddress peer_mac_{};
    std::uint16_t link_mtu_ = kStandardMtu;
    crypto::Key tx_key_{};
    crypto::Key rx_key_{};
    std::uint64_t next_hello_ns_ = 0;

    // Sender. Messages acked_ < m < snd_nxt_ have been transmitted, snd_nxt_ <= m < next_msg_
    // are accepted and queued.
    std::uint64_t next_seq_ = 1;
    std::uint64_t next_msg_ = 1;
    std::uint64_t snd_nxt_ = 1;
    std::uint64_t acked_ = 0;  // cumulative: the peer has every message <= acked_
    bool have_rtt_ = false;
    std::uint64_t srtt_ns_ = 0;
    std::uint64_t rttvar_ns_ = 0;
    std::uint64_t min_rtt_ns_ = 0;
    std::uint64_t rto_ns_ = 0;
    std::uint32_t backoff_ = 0;  // doublings of the RTO; cleared by the next valid RTT sample only
    bool rto_armed_ = false;
    std::uint64_t rto_start_ns_ = 0;
    std::uint64_t last_tx_ns_ = 0;
    // Congestion control, in messages.
    std::uint32_t cwnd_ = 0;
    std::uint32_t ssthresh_ = 0;
    std::uint32_t cwnd_acc_ = 0;  // messages acked towards the next additive increase
    bool in_recovery_ = false;    // no further reduction until recovery_point_ is acked
    bool recovery_by_timeout_ = false;  // ... and it began with a timeout: slow start meanwhile
    bool fast_retransmit_due_ = false;  // recovery began: the oldest lost message goes at once
    std::uint64_t recovery_point_ = 0;
    std::uint32_t sacked_count_ = 0;  // outstanding slots with sacked set
    std::uint32_t lost_count_ = 0;    // outstanding slots with lost set
    // RACK: the newest transmission known to have arrived (its frame seq), its round trip, and
    // the reordering seen so far (how late a message arrived after one sent after it).
    std::uint64_t rack_seq_ = 0;
    std::uint64_t rack_rtt_ns_ = 0;
    std::uint64_t rack_ns_ = 0;     // when rack_seq_ last advanced
    std::uint64_t reorder_ns_ = 0;  // largest lateness observed
    bool rack_armed_ = false;
    std::uint64_t rack_deadline_ns_ = 0;
    std::uint32_t dupthresh_ = 3;  // raised to the reordering seen
    bool retransmitted_delivered_ = false;  // the ack being processed covers a retransmitted message
    // Tail loss probe: armed by a transmission or an ack that delivers; one per silence.
    bool probe_out_ = false;
    std::uint64_t probe_start_ns_ = 0;
    // Queueing delay: the least round trip of the last full round (at least one SRTT long)
    // against the least ever seen. A standing queue raises even the least sample of a round.
    std::uint64_t round_start_ns_ = 0;
    std::uint64_t round_min_ns_ = 0;  // 0: no sample in this round yet
    std::uint64_t last_round_min_ns_ = 0;
    std::uint32_t round_samples_ = 0;
    bool queueing_ = false;  // the last round's least sample was at least twice the minimum

    // Receiver.
    ReplayWindow replay_{};
    std::uint64_t delivered_ = 0;  // every message <= delivered_ has been delivered
    bool ack_pending_ = false;
    bool ack_now_ = false;
    bool nack_now_ = false;  // the ack due now shows a new hole: a NACK if it must go alone
    std::uint64_t highest_received_ = 0;
    std::uint32_t unacked_messages_ = 0;
    std::uint64_t ack_pending_since_ns_ = 0;
    std::uint64_t last_arrival_ns_ = 0;  // of the last new message
    std::uint64_t arrival_gap_ns_ = 0;   // moving average of the gaps between new messages
    bool nack_sent_ = false;
    std::uint64_t last_nack_ns_ = 0;
    std::uint64_t last_heard_ns_ = 0;

    SendSlot send_[kMaxWindow];
    RecvSlot recv_[kMaxWindow];
    std::uint8_t tx_frame_[kMaxFrameSize];
};

const char* transport_state_name(Transport::State s);

}  // namespace tandem::link
