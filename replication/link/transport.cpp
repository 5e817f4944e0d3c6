#include "replication/link/transport.hpp"

#include "replication/link/frame_seal.hpp"
#include "replication/link/link_time.hpp"

namespace tandem::link {

Status Transport::start(const TransportConfig& config, const LinkSecret& secret) {
    if (auto checked = check_transport_config(config, secret); !checked) return checked;
    reset(config);
    session_.start(config, secret, now());
    send_hello(nullptr);
    return success();
}

void Transport::reset(const TransportConfig& config) {
    stats_ = TransportStats{};
    send_.reset();
    recv_.reset();
    acks_.reset(config.ack_every, config.timing);
    congestion_.reset(config);
    next_seq_ = 1;
    last_tx_ns_ = 0;
    followed_session_ = 0;
}

// ---- sending ------------------------------------------------------------------------------

void Transport::transmit(FrameHeader h, std::span<const std::uint8_t> payload, const crypto::Key* traffic_key,
                         const MacAddress* dst) {
    const TransportConfig& config = session_.config();
    h.magic = kMagic;
    h.version = config.protocol_version;
    h.session = config.session_id;
    h.flags = 0;
    // Every frame gets a fresh sequence number: it is the frame's nonce, under the traffic key
    // and under the handshake key alike, so no key ever sees one nonce twice.
    h.seq = next_seq_++;
    const bool handshake = h.type == FrameType::hello || h.type == FrameType::hello_ack;
    if (!handshake) {
        h.ack = recv_.delivered();
        h.ack_bitmap = recv_.ack_bitmap();
        acks_.carried();  // every sequenced frame carries the acks
    }
    EthernetHeader eth{dst != nullptr ? *dst : session_.destination(), config.local_mac, kEtherType};
    auto size = seal_frame(tx_frame_, eth, h, payload, traffic_key, traffic_key == nullptr ? session_.handshake_key() : nullptr);
    if (!size) {
        ++stats_.tx_errors;
        return;
    }
    if (!channel_.transmit(std::span<const std::uint8_t>(tx_frame_, *size))) ++stats_.tx_errors;
    ++stats_.frames_sent;
    last_tx_ns_ = now();
}

void Transport::transmit_message(SendSlot& slot) {
    FrameHeader h;
    h.type = slot.type;
    h.epoch = slot.epoch;
    h.msg = slot.msg;
    const std::uint64_t seq = next_seq_;  // transmit() gives the frame this number
    transmit(h, slot.bytes(), session_.tx_key(false), nullptr);
    const std::uint64_t t = now();
    if (slot.transmissions == 0) ++stats_.messages_sent;
    slot.record_transmission(seq, t);
    congestion_.on_transmit(t);
}

void Transport::retransmit(SendSlot& slot) {
    const bool fast = !slot.lost || !slot.lost_by_timeout;
    send_.clear_lost(slot);
    transmit_message(slot);
    ++stats_.retransmissions;
    if (fast) ++stats_.fast_retransmissions;
    // The timer covers the oldest message: give its new copy a full RTO.
    if (slot.msg == send_.acked() + 1) congestion_.on_oldest_resent(slot.last_sent_ns);
}

// What the congestion window allows: lost messages first (oldest first), then queued ones.
void Transport::send_queued() {
    if (!session_.established()) return;
    if (send_.lost_count() == 0 && !send_.has_queued()) return;
    if (past_send_deadline()) return;
    if (send_.lost_count() != 0) {
        bool first = congestion_.take_fast_retransmit();  // goes whatever the pipe
        for (std::uint64_t m = send_.acked() + 1; m < send_.snd_nxt() && send_.lost_count() != 0 &&
                                                  (first || (send_.pipe() < congestion_.cwnd() && !past_send_deadline()));
             ++m) {
            SendSlot* s = send_.outstanding(m);
            if (s != nullptr && s->lost) {
                retransmit(*s);
                first = false;
            }
        }
    }
    while (send_.has_queued() && send_.pipe() < congestion_.cwnd() && !past_send_deadline()) {
        transmit_message(send_.take_queued());
    }
}

// A tail loss probe (congestion_control.hpp): a queued message, else the newest outstanding again.
void Transport::send_probe() {
    congestion_.on_probe();
    if (send_.has_queued()) {
        transmit_message(send_.take_queued());
        return;
    }
    if (SendSlot* s = send_.newest_unsacked()) retransmit(*s);
}

void Transport::send_control(FrameType type) {
    FrameHeader h;
    h.type = type;
    transmit(h, {}, session_.tx_key(false), nullptr);
    if (type == FrameType::ack) ++stats_.acks_sent;
    if (type == FrameType::nack) ++stats_.nacks_sent;
    if (type == FrameType::heartbeat) ++stats_.heartbeats_sent;
}

void Transport::send_hello(const MacAddress* to) {
    std::uint8_t payload[kHelloPayloadSize];
    encode_hello(session_.local_params(), payload);
    FrameHeader h;
    h.type = FrameType::hello;
    transmit(h, payload, nullptr, to);
    ++stats_.hellos_sent;
}

void Transport::send_reply(const LinkSession::Reply& reply) {
    if (!reply.send) return;
    std::uint8_t payload[kHelloAckPayloadSize];
    encode_hello_ack(reply.ack, payload);
    FrameHeader h;
    h.type = FrameType::hello_ack;
    // Accepting: under the traffic key towards the accepted session, which proves we hold the key
    // and saw that session. Refusing: tagged like a HELLO.
    transmit(h, payload, reply.keyed ? &reply.key : nullptr, &reply.to);
    if (reply.hello_too) send_hello(&reply.to);
}

Status Transport::send(FrameType type, std::uint64_t epoch, std::span<const std::uint8_t> payload) {
    if (!is_message_type(type)) return Error::of("link: not a message frame type", static_cast<std::uint8_t>(type));
    if (!established()) return Error::of("link: not established");
    if (payload.size() > max_message_size()) return Error::of("link: message larger than one frame's payload", payload.size());
    if (!can_send() || !send_.accept(type, epoch, payload)) return Error::of("link: send window full", in_flight());
    send_queued();
    return success();
}

bool Transport::can_send() const { return established() && in_flight() < session_.config().window; }

void Transport::flush_acks(bool timer) {
    if (!established()) return;
    if (acks_.due(timer, now())) send_control(acks_.nack_due() ? FrameType::nack : FrameType::ack);
}

// ---- timers -------------------------------------------------------------------------------

void Transport::poll() {
    if (state() == State::connecting) {
        if (session_.hello_due(now())) send_hello(nullptr);
        return;
    }
    if (!established()) return;
    const std::uint64_t t = now();
    switch (congestion_.due(send_, t)) {
    case CongestionControl::Timer::retransmission:
        congestion_.on_retransmission_timeout(send_, now());
        send_queued();
        break;
    case CongestionControl::Timer::rack:
        congestion_.detect_losses(send_, now());
        break;
    case CongestionControl::Timer::probe:
        send_probe();
        break;
    case CongestionControl::Timer::none:
        break;
    }
    send_queued();
    flush_acks(true);
    if (elapsed(t, last_tx_ns_) >= session_.config().timing.heartbeat_interval_ns) send_control(FrameType::heartbeat);
}

void Transport::keepalive() {
    if (!established()) return;
    if (elapsed(now(), last_tx_ns_) >= session_.config().timing.heartbeat_interval_ns) {
        send_control(FrameType::heartbeat);
        ++stats_.keepalives;
    }
}

// ---- receiving ----------------------------------------------------------------------------

void Transport::on_frame(std::span<const std::uint8_t> bytes) {
    if (state() == State::idle) return;
    const TransportConfig& config = session_.config();
    const FrameDecode d = decode_frame(bytes, max_frame_for_mtu(config.mtu), config.protocol_version);
    if (!d.ok()) {
        if (d.reason == RejectReason::not_tandem) {
            ++stats_.ignored;
            return;
        }
        ++stats_.rejects[static_cast<std::size_t>(d.reason)];
        if (d.reason == RejectReason::version_mismatch && !same_mac(d.frame.eth.src, config.local_mac)) {
            send_reply(session_.on_version_mismatch(d.frame, bytes, static_cast<std::uint8_t>(d.value)));
            return;
        }
        ++stats_.rejected_malformed;
        return;
    }
    const DecodedFrame& f = d.frame;
    const bool to_us = same_mac(f.eth.dst, config.local_mac) ||
                       (f.header.type == FrameType::hello && same_mac(f.eth.dst, kBroadcastMac));
    if (same_mac(f.eth.src, config.local_mac) || !to_us) {  // our own frame echoed by a hub, or not ours
        ++stats_.ignored;
        return;
    }
    if (session_.knows_peer_mac() && !same_mac(f.eth.src, session_.peer_mac())) {
        ++stats_.rejected_source;
        return;
    }
    switch (f.header.type) {
    case FrameType::hello: {
        const LinkSession::Reply reply = session_.on_hello(f, now());
        follow_peer_session();
        send_reply(reply);
        break;
    }
    case FrameType::hello_ack:
        session_.on_hello_ack(f, now());
        follow_peer_session();
        break;
    default:
        on_keyed_frame(f);
        break;
    }
    send_queued();
    flush_acks(false);
}

void Transport::on_keyed_frame(const DecodedFrame& f) {
    if (!session_.admit(f, now())) return;
    follow_peer_session();
    process_acks(f.header.ack, f.header.ack_bitmap);
    if (is_message_type(f.header.type)) on_message_frame(f);
}

// A new session of the peer replaced the old one (it proved the key, link_session.hpp): its
// messages are numbered from 1 again, and nothing of the old session's windows applies.
void Transport::follow_peer_session() {
    const std::uint64_t peer = session_.peer_session();
    if (peer == followed_session_) return;
    if (followed_session_ != 0) {
        send_.reset();
        recv_.reset();
        acks_.reset(session_.config().ack_every, session_.config().timing);
        congestion_.reset(session_.config());
    }
    followed_session_ = peer;
}

void Transport::on_message_frame(const DecodedFrame& f) {
    const std::uint64_t m = f.header.msg;
    switch (recv_.classify(m)) {
    case ReceiveWindow::Arrival::duplicate:
        ++stats_.duplicates;
        acks_.on_duplicate();  // the sender retransmitted: our ack was lost
        return;
    case ReceiveWindow::Arrival::beyond_window:  // beyond any window the sender may use
        ++stats_.protocol_errors;
        return;
    case ReceiveWindow::Arrival::fresh:
        break;
    }
    const ReceiveWindow::Stored stored = recv_.store(m, f.header.type, f.header.epoch, f.payload.size());
    decrypt_verified_payload(f, session_.rx_key(), stored.payload);
    acks_.on_message(now());
    if (!stored.in_order) {
        // A new hole shows at once, on the next frame that leaves (on_frame() sends what the
        // window allows first), else in a NACK.
        if (stored.new_hole) acks_.on_new_hole(now());
        return;
    }
    while (recv_.ready()) {
        const Message message = recv_.take();
        ++stats_.messages_delivered;
        sink_.on_message(message);
    }
}

void Transport::process_acks(std::uint64_t ack, std::uint64_t bitmap) {
    const std::uint64_t t = now();
    AckSamples samples;
    const SendWindow::AckResult result = send_.apply_ack(ack, bitmap, [&](const SendSlot& s) {
        samples.add(s);
        congestion_.on_newly_delivered(send_, s, t);
    });
    if (result == SendWindow::AckResult::invalid) {  // acknowledges a message never sent
        ++stats_.protocol_errors;
        return;
    }
    if (samples.valid()) {
        congestion_.on_rtt_samples(elapsed(t, samples.oldest_sent_ns), elapsed(t, samples.newest_sent_ns), now());
    }
    if (result == SendWindow::AckResult::progress) congestion_.on_cumulative_ack(send_, now());
    if (samples.delivered != 0) congestion_.on_delivered(samples.delivered, t);
    congestion_.detect_losses(send_, now());
    // What the acks allow is sent by on_frame() once the frame's message is in: so that the
    // frames going out carry its ack too.
}

}  // namespace tandem::link
