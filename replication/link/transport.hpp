// The replication transport (DESIGN.md §4): reliable, in-order, exactly-once delivery of
// messages (each up to one frame's payload) over an unreliable, authenticated frame channel.
// It composes four units and owns the framing between them:
//
//   link_session.hpp        handshake, peer, traffic keys, admission of keyed frames (anti-replay),
//                           liveness (heartbeats are the transport's, silence the session's)
//   send_window.hpp         message numbers, the 64-message window, cumulative and selective acks
//   receive_window.hpp      out-of-order messages held, delivered exactly once and in order
//   ack_schedule.hpp        when an ACK or NACK goes alone
//   congestion_control.hpp  loss detection (dupthresh, RACK, tail loss probe, RTO), the
//                           congestion window and the RTT estimate (rtt_estimator.hpp)
//
// Every frame has a fresh sequence number (its nonce). A message has its own number; a
// retransmission is a new frame carrying the same message. Every sequenced frame carries the
// cumulative ack and the 64-bit selective-ack bitmap. send() accepts up to `window` messages;
// they go on the wire as the congestion window allows, lost ones first. HEARTBEAT when nothing
// was sent for heartbeat_interval. Counters: transport_stats.hpp; report(): transport_report.cpp.
//
// Single-threaded and polled: the owner calls on_frame() for each received frame and poll()
// regularly (timers, queued messages). Memory: about 1.2 MB (64 send + 64 receive slots of jumbo
// size); place the object in static storage on the machine, never on the stack.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "hypervisor/console/writer.hpp"
#include "hypervisor/util/result.hpp"
#include "replication/link/ack_schedule.hpp"
#include "replication/link/congestion_control.hpp"
#include "replication/link/frame.hpp"
#include "replication/link/hello.hpp"
#include "replication/link/link_interfaces.hpp"
#include "replication/link/link_keys.hpp"
#include "replication/link/link_session.hpp"
#include "replication/link/receive_window.hpp"
#include "replication/link/send_window.hpp"
#include "replication/link/transport_config.hpp"
#include "replication/link/transport_stats.hpp"

namespace tandem::link {

class UdpEnvelope;

class Transport {
public:
    static constexpr std::size_t kMaxWindow = link::kMaxWindow;
    using State = LinkSession::State;

    Transport(FrameChannel& channel, Clock& clock, MessageSink& sink)
        : channel_(channel), clock_(clock), sink_(sink), session_(stats_), congestion_(stats_) {}
    Transport(const Transport&) = delete;
    Transport& operator=(const Transport&) = delete;

    // Validates the configuration, resets all state and sends the first HELLO.
    Status start(const TransportConfig& config, const LinkSecret& secret);

    // One received Ethernet frame (without FCS). Everything is validated; nothing is trusted.
    void on_frame(std::span<const std::uint8_t> frame);

    // Timers: HELLO repeats, retransmissions, delayed ACKs, heartbeats. Call often (every
    // receive-poll round on the machine).
    void poll();
    // From inside a long operation that must not receive: a heartbeat if one is due, nothing
    // else (engine/keepalive.hpp).
    void keepalive();
    // Ends the link for good on this side: nothing is sent, every frame received is ignored (the
    // counters stay for the reports). A primary that handed its guest over goes silent so.
    void close() { session_.close(); }
    // Hellos of new peer sessions go unanswered until the next start() (LinkSession's setter).
    void set_quiet_to_newcomers() { session_.set_quiet_to_newcomers(); }
    // Acknowledges what was received right away, not when the ack schedule would: before this
    // side restarts its link, so that the peer learns its last messages arrived.
    void ack_now() {
        if (established()) send_control(FrameType::ack);
    }

    // Accepts one message into the window and transmits it as soon as the congestion window
    // allows (at once, or from on_frame()/poll() as acks arrive). Fails when the link is not
    // established, the window is full (check can_send()), the type is not a message type or the
    // payload is too large.
    Status send(FrameType type, std::uint64_t epoch, std::span<const std::uint8_t> payload);
    bool can_send() const;
    // Bounds the time this side spends sealing and transmitting messages (new, lost, resent):
    // after `deadline_ns` (this transport's clock) they wait in the window for a poll() or
    // on_frame() under a later bound or none. Control frames (acks, heartbeats, the handshake)
    // and a tail loss probe still go: they are small and keep the link alive. 0 lifts the bound.
    // The primary bounds each timer exit so: sealing a frame costs about a millisecond in Bochs,
    // and a window of them sent in one exit held the guest 55-87 ms (ARCHITECTURE.md, "What
    // bounds an exit").
    void bound_sending_until(std::uint64_t deadline_ns) { send_deadline_ns_ = deadline_ns; }
    // Messages accepted by send() and not yet acknowledged (queued ones included).
    std::size_t in_flight() const { return send_.in_flight(); }
    // Accepted messages not transmitted yet (waiting for the congestion window).
    std::size_t queued() const { return send_.queued(); }
    std::size_t max_message_size() const { return max_payload_for_mtu(link_mtu()); }

    State state() const { return session_.state(); }
    bool established() const { return session_.established(); }
    // Set when state() is refused (only an authenticated refusal, or any on an insecure link).
    const HandshakeFailure* refusal() const { return session_.refusal(); }
    Error refusal_error() const { return handshake_error(session_.last_failure()); }
    // The last reason seen in a handshake frame that could not be authenticated (it changed
    // nothing), and how many distinct ones were seen: report each new one.
    const HandshakeFailure* observation() const { return session_.observation(); }
    std::uint64_t observations() const { return session_.observations(); }

    // Nothing authenticated from the peer for silence_timeout (since start, before the first).
    bool peer_silent() const { return session_.peer_silent(now()); }
    // Whether the peer had been silent for the timeout as of `at` (ns, this transport's clock).
    bool peer_silent_at(std::uint64_t at) const { return session_.peer_silent(at); }
    // Nothing authenticated from the peer for `timeout_ns` (a bound other than silence_timeout).
    bool peer_silent_for(std::uint64_t timeout_ns) const { return session_.peer_silent_for(now(), timeout_ns); }
    std::uint64_t last_heard_ns() const { return session_.last_heard_ns(); }

    const TransportStats& stats() const { return stats_; }
    const HandshakeParams& peer_params() const { return session_.peer_params(); }
    std::uint64_t peer_session() const { return session_.peer_session(); }
    std::uint16_t link_mtu() const { return session_.link_mtu(); }
    bool acked_everything() const { return send_.acked_everything(); }

    // Congestion control and round-trip state (for reports, tests and benchmarks).
    std::uint32_t cwnd() const { return congestion_.cwnd(); }
    std::uint32_t ssthresh() const { return congestion_.ssthresh(); }
    std::uint64_t srtt_ns() const { return congestion_.rtt().srtt_ns(); }
    std::uint64_t min_rtt_ns() const { return congestion_.rtt().min_rtt_ns(); }
    std::uint64_t rto_ns() const { return congestion_.rto_ns(); }

    // Human-readable state and counters, one "link: ..." line each (transport_report.cpp).
    void report(Writer& w) const;
    // The same in one line of JSON, `link --json` (transport_report_json.cpp); with the UDP/IPv4
    // envelope's counters as "udp" when the link runs over it.
    void report_json(Writer& w, const UdpEnvelope* envelope = nullptr) const;

private:
    std::uint64_t now() const { return clock_.now_ns(); }
    void reset(const TransportConfig& config);

    // Sending.
    // traffic_key null: a handshake frame, tagged with the handshake key (the public checksum on
    // an insecure link).
    void transmit(FrameHeader h, std::span<const std::uint8_t> payload, const crypto::Key* traffic_key,
                  const MacAddress* dst);
    void transmit_message(SendSlot& slot);
    void retransmit(SendSlot& slot);
    void send_queued();
    bool past_send_deadline() const { return send_deadline_ns_ != 0 && now() >= send_deadline_ns_; }
    void send_probe();
    void send_control(FrameType type);
    void send_hello(const MacAddress* to);
    void send_reply(const LinkSession::Reply& reply);
    void flush_acks(bool timer);

    // Receiving.
    void on_keyed_frame(const DecodedFrame& frame);
    void follow_peer_session();
    void on_message_frame(const DecodedFrame& frame);
    void process_acks(std::uint64_t ack, std::uint64_t bitmap);

    FrameChannel& channel_;
    Clock& clock_;
    MessageSink& sink_;

    TransportStats stats_{};
    LinkSession session_;
    SendWindow send_{};
    ReceiveWindow recv_{};
    AckSchedule acks_{};
    CongestionControl congestion_;
    std::uint64_t next_seq_ = 1;  // of the next sequenced frame: its nonce, never repeated in a session
    std::uint64_t last_tx_ns_ = 0;
    std::uint64_t followed_session_ = 0;  // the peer session the windows belong to
    std::uint64_t send_deadline_ns_ = 0;  // bound_sending_until(); 0: none
    std::uint8_t tx_frame_[kMaxFrameSize];
};

const char* transport_state_name(Transport::State s);

}  // namespace tandem::link
