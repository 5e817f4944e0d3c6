// The replication transport (DESIGN.md §4): reliable, in-order, exactly-once delivery of
// messages (each up to one frame's payload) over an unreliable, authenticated frame channel.
//
//  - Handshake: HELLO / HELLO_ACK (hello.hpp) agree on version, role, guest memory, page size,
//    features, key and MTU; any mismatch refuses the link on both sides with a clear reason.
//  - Every frame has a fresh sequence number (the nonce; anti-replay window of 256 frames).
//    A message has its own number; a retransmission is a new frame carrying the same message.
//  - Sliding send window of up to 64 messages. Every frame carries a cumulative ack and a 64-bit
//    selective-ack bitmap. The receiver buffers out-of-order messages (up to 64 ahead) and sends
//    a NACK (an ack asking for the holes) when it sees a gap.
//  - Retransmission: on timeout (RTO from RFC 6298 estimates, Karn's rule, exponential backoff up
//    to max_rto), and fast retransmit of a hole once 3 later messages are selectively acked or a
//    NACK shows it, at most once per smoothed RTT.
//  - Duplicates (a message received again) are dropped and re-acked; replays (a frame whose
//    sequence number was seen or is older than the window) are dropped and counted.
//  - HEARTBEAT when nothing was sent for heartbeat_interval; the peer is "silent" when nothing
//    authenticated arrived for silence_timeout.
//
// Single-threaded and polled: the owner calls on_frame() for each received frame and poll()
// regularly (timers). Memory: about 1.2 MB (64 send + 64 receive slots of jumbo size); place the
// object in static storage on the machine, never on the stack.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "hypervisor/config/config.hpp"
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
    std::uint64_t ack_delay_ns = 500'000;             // a pure ACK at the latest this long after data
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
    std::uint32_t window = 64;     // messages in flight, 1..64
    std::uint32_t ack_every = 4;   // a pure ACK after this many unacknowledged messages
    TransportTiming timing{};
    std::uint8_t protocol_version = kProtocolVersion;  // only tests change this
};

struct TransportStats {
    std::uint64_t frames_sent = 0;          // every frame handed to the channel
    std::uint64_t frames_received = 0;      // authenticated, fresh frames accepted
    std::uint64_t messages_sent = 0;        // first transmissions
    std::uint64_t messages_delivered = 0;
    std::uint64_t retransmissions = 0;      // timeout + fast
    std::uint64_t fast_retransmissions = 0;
    std::uint64_t timeouts = 0;             // retransmission timer expiries
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

    // Queues and transmits one message. Fails when the link is not established, the window is
    // full (check can_send()), the type is not a message type or the payload is too large.
    Status send(FrameType type, std::uint64_t epoch, std::span<const std::uint8_t> payload);
    bool can_send() const;
    std::size_t in_flight() const { return static_cast<std::size_t>(next_msg_ - 1 - acked_); }
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

    // Human-readable state and counters, one "link: ..." line each.
    void report(Writer& w) const;

private:
    struct SendSlot {
        std::uint64_t msg = 0;
        std::uint64_t epoch = 0;
        std::uint64_t first_sent_ns = 0;
        std::uint64_t last_sent_ns = 0;
        std::uint32_t transmissions = 0;
        std::uint16_t length = 0;
        FrameType type = FrameType::data;
        bool in_use = false;
        bool sacked = false;
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
    void retransmit(SendSlot& slot, bool fast);
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
    void process_acks(std::uint64_t ack, std::uint64_t bitmap, bool nack);
    void fast_retransmit(bool nack);
    void accept_peer(const DecodedFrame& frame, const HandshakeParams& params);
    void become_established();
    void refuse(const HandshakeFailure& failure, const MacAddress& reply_to, std::uint64_t echo_session);
    void rtt_sample(std::uint64_t sample_ns);
    std::uint64_t current_rto() const;
    void flush_acks(bool timer);

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

    // Sender.
    std::uint64_t next_seq_ = 1;
    std::uint64_t next_msg_ = 1;
    std::uint64_t acked_ = 0;  // cumulative: the peer has every message <= acked_
    bool have_rtt_ = false;
    std::uint64_t srtt_ns_ = 0;
    std::uint64_t rttvar_ns_ = 0;
    std::uint64_t rto_ns_ = 0;
    std::uint32_t backoff_ = 0;
    std::uint64_t last_tx_ns_ = 0;

    // Receiver.
    ReplayWindow replay_{};
    std::uint64_t delivered_ = 0;  // every message <= delivered_ has been delivered
    bool ack_pending_ = false;
    bool ack_now_ = false;
    std::uint32_t unacked_messages_ = 0;
    std::uint64_t ack_pending_since_ns_ = 0;
    bool nack_sent_ = false;
    std::uint64_t last_nack_ns_ = 0;
    std::uint64_t last_heard_ns_ = 0;

    SendSlot send_[kMaxWindow];
    RecvSlot recv_[kMaxWindow];
    std::uint8_t tx_frame_[kMaxFrameSize];
};

const char* transport_state_name(Transport::State s);

}  // namespace tandem::link
