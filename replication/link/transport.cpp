#include "replication/link/transport.hpp"

#include "replication/crypto/constant_time.hpp"
#include "replication/link/frame_seal.hpp"

namespace tandem::link {
namespace {

// A hole is fast-retransmitted once this many later messages are selectively acked (the
// "duplicate ack threshold" of TCP, RFC 5681 §3.2).
constexpr std::uint32_t kDupThreshold = 3;
constexpr std::uint32_t kMaxBackoff = 16;

std::uint64_t elapsed(std::uint64_t now, std::uint64_t since) { return now >= since ? now - since : 0; }

}  // namespace

const char* transport_state_name(Transport::State s) {
    switch (s) {
    case Transport::State::idle: return "idle";
    case Transport::State::connecting: return "connecting";
    case Transport::State::established: return "established";
    case Transport::State::refused: return "refused";
    }
    return "unknown";
}

Status Transport::start(const TransportConfig& config, const LinkSecret& secret) {
    if (config.session_id == 0) return Error::of("link: session id must be nonzero (random at every start)");
    if (config.mtu < kStandardMtu || config.mtu > kJumboMtu) return Error::of("link: MTU outside 1500..9000", config.mtu);
    if (config.window == 0 || config.window > kMaxWindow) return Error::of("link: window outside 1..64", config.window);
    if (config.ack_every == 0) return Error::of("link: ack_every must be at least 1");
    if (config.page_size == 0 || (config.page_size & (config.page_size - 1)) != 0) {
        return Error::of("link: page size is not a power of two", config.page_size);
    }
    const TransportTiming& t = config.timing;
    if (t.hello_interval_ns == 0 || t.heartbeat_interval_ns == 0 || t.silence_timeout_ns == 0 || t.min_rto_ns == 0 ||
        t.initial_rto_ns == 0 || t.min_rto_ns > t.max_rto_ns) {
        return Error::of("link: a timing parameter is zero, or min_rto exceeds max_rto");
    }
    if (!secret.insecure && secret.key_id == 0) return Error::of("link: a key without key id (use make_link_secret)");
    config_ = config;
    secret_ = secret;
    reset();
    local_params_.role = config.role;
    local_params_.mtu = config.mtu;
    local_params_.page_size = config.page_size;
    local_params_.guest_memory = config.guest_memory;
    local_params_.features = config.features;
    local_params_.key_id = secret.insecure ? 0 : secret.key_id;
    state_ = State::connecting;
    std::uint64_t t0 = now();
    last_heard_ns_ = t0;
    send_hello();
    next_hello_ns_ = t0 + t.hello_interval_ns;
    return success();
}

void Transport::reset() {
    state_ = State::idle;
    stats_ = TransportStats{};
    peer_accepted_ = false;
    peer_session_ = 0;
    confirmed_session_ = 0;
    peer_params_ = HandshakeParams{};
    refusal_ = HandshakeFailure{};
    have_peer_mac_ = config_.has_peer_mac;
    peer_mac_ = config_.peer_mac;
    link_mtu_ = kStandardMtu;
    crypto::secure_zero(tx_key_);
    crypto::secure_zero(rx_key_);
    next_seq_ = 1;
    next_msg_ = 1;
    acked_ = 0;
    have_rtt_ = false;
    srtt_ns_ = rttvar_ns_ = 0;
    rto_ns_ = config_.timing.initial_rto_ns;
    backoff_ = 0;
    last_tx_ns_ = 0;
    replay_.reset();
    delivered_ = 0;
    ack_pending_ = ack_now_ = false;
    unacked_messages_ = 0;
    ack_pending_since_ns_ = 0;
    nack_sent_ = false;
    last_nack_ns_ = 0;
    for (auto& s : send_) {
        s.in_use = false;
        s.sacked = false;
    }
    for (auto& r : recv_) r.filled = false;
}

// ---- sending ------------------------------------------------------------------------------

std::uint64_t Transport::ack_bitmap() const {
    std::uint64_t bits = 0;
    for (std::uint64_t i = 0; i < kMaxWindow - 1; ++i) {  // messages delivered_ + 2 .. delivered_ + 64
        if (recv_[(delivered_ + 2 + i) % kMaxWindow].filled) bits |= std::uint64_t{1} << i;
    }
    return bits;
}

void Transport::transmit(FrameHeader h, std::span<const std::uint8_t> payload, bool checksum_only, const MacAddress* dst) {
    h.magic = kMagic;
    h.version = config_.protocol_version;
    h.session = config_.session_id;
    h.flags = 0;
    if (h.type != FrameType::hello && h.type != FrameType::hello_ack) {
        h.seq = next_seq_++;
        h.ack = delivered_;
        h.ack_bitmap = ack_bitmap();
        ack_pending_ = false;  // every sequenced frame carries the acks
        ack_now_ = false;
        unacked_messages_ = 0;
    }
    EthernetHeader eth{dst != nullptr ? *dst : (have_peer_mac_ ? peer_mac_ : kBroadcastMac), config_.local_mac, kEtherType};
    const crypto::Key* key = checksum_only || insecure() ? nullptr : &tx_key_;
    auto size = seal_frame(tx_frame_, eth, h, payload, key);
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
    transmit(h, std::span<const std::uint8_t>(slot.payload, slot.length), false, nullptr);
    slot.last_sent_ns = now();
    ++slot.transmissions;
}

void Transport::retransmit(SendSlot& slot, bool fast) {
    transmit_message(slot);
    ++stats_.retransmissions;
    if (fast) ++stats_.fast_retransmissions;
}

void Transport::send_control(FrameType type) {
    FrameHeader h;
    h.type = type;
    transmit(h, {}, false, nullptr);
    if (type == FrameType::ack) ++stats_.acks_sent;
    if (type == FrameType::nack) ++stats_.nacks_sent;
    if (type == FrameType::heartbeat) ++stats_.heartbeats_sent;
}

void Transport::send_hello() {
    std::uint8_t payload[kHelloPayloadSize];
    encode_hello(local_params_, payload);
    FrameHeader h;
    h.type = FrameType::hello;
    transmit(h, payload, true, nullptr);
    ++stats_.hellos_sent;
}

void Transport::send_hello_ack(const HelloAck& ack, const MacAddress& dst) {
    std::uint8_t payload[kHelloAckPayloadSize];
    encode_hello_ack(ack, payload);
    FrameHeader h;
    h.type = FrameType::hello_ack;
    // Accepting: under the new traffic key, which proves we hold the key and saw this session.
    // The frame is the same bytes every time it is repeated (seq 0, same fields, same
    // destination), so repeating it never reuses a nonce for a different message.
    transmit(h, payload, ack.refused != HandshakeField::none, &dst);
}

Status Transport::send(FrameType type, std::uint64_t epoch, std::span<const std::uint8_t> payload) {
    if (!is_message_type(type)) return Error::of("link: not a message frame type", static_cast<std::uint8_t>(type));
    if (state_ != State::established) return Error::of("link: not established");
    if (payload.size() > max_message_size()) return Error::of("link: message larger than one frame's payload", payload.size());
    if (!can_send()) return Error::of("link: send window full", in_flight());
    SendSlot& slot = send_[next_msg_ % kMaxWindow];
    slot.msg = next_msg_++;
    slot.type = type;
    slot.epoch = epoch;
    slot.length = static_cast<std::uint16_t>(payload.size());
    for (std::size_t i = 0; i < payload.size(); ++i) slot.payload[i] = payload[i];
    slot.in_use = true;
    slot.sacked = false;
    slot.transmissions = 0;
    slot.first_sent_ns = now();
    transmit_message(slot);
    ++stats_.messages_sent;
    return success();
}

bool Transport::can_send() const { return state_ == State::established && in_flight() < config_.window; }

// ---- timers -------------------------------------------------------------------------------

std::uint64_t Transport::current_rto() const {
    std::uint64_t base = have_rtt_ ? rto_ns_ : config_.timing.initial_rto_ns;
    const std::uint64_t cap = config_.timing.max_rto_ns;
    if (backoff_ >= 63 || base > (cap >> backoff_)) return cap;
    std::uint64_t rto = base << backoff_;
    return rto < cap ? rto : cap;
}

// RFC 6298 §2: SRTT, RTTVAR, RTO = SRTT + max(G, 4 * RTTVAR), clamped to [min_rto, max_rto].
void Transport::rtt_sample(std::uint64_t r) {
    if (!have_rtt_) {
        srtt_ns_ = r;
        rttvar_ns_ = r / 2;
        have_rtt_ = true;
    } else {
        std::uint64_t diff = srtt_ns_ > r ? srtt_ns_ - r : r - srtt_ns_;
        rttvar_ns_ = (3 * rttvar_ns_ + diff) / 4;
        srtt_ns_ = (7 * srtt_ns_ + r) / 8;
    }
    std::uint64_t granularity = config_.timing.min_rto_ns / 4;
    std::uint64_t var = 4 * rttvar_ns_ > granularity ? 4 * rttvar_ns_ : granularity;
    std::uint64_t rto = srtt_ns_ + var;
    if (rto < config_.timing.min_rto_ns) rto = config_.timing.min_rto_ns;
    if (rto > config_.timing.max_rto_ns) rto = config_.timing.max_rto_ns;
    rto_ns_ = rto;
}

void Transport::flush_acks(bool timer) {
    if (state_ != State::established) return;
    bool due = ack_now_ || unacked_messages_ >= config_.ack_every;
    if (timer && ack_pending_ && elapsed(now(), ack_pending_since_ns_) >= config_.timing.ack_delay_ns) due = true;
    if (due && (ack_pending_ || ack_now_)) send_control(FrameType::ack);
}

void Transport::poll() {
    if (state_ == State::connecting) {
        std::uint64_t t = now();
        if (t >= next_hello_ns_) {
            send_hello();
            next_hello_ns_ = t + config_.timing.hello_interval_ns;
        }
        return;
    }
    if (state_ != State::established) return;
    const std::uint64_t t = now();
    const std::uint64_t rto = current_rto();
    bool expired = false;
    for (std::uint64_t m = acked_ + 1; m < next_msg_; ++m) {
        SendSlot& s = send_[m % kMaxWindow];
        if (s.in_use && !s.sacked && s.msg == m && elapsed(t, s.last_sent_ns) >= rto) {
            retransmit(s, false);
            expired = true;
        }
    }
    if (expired) {
        ++stats_.timeouts;
        if (backoff_ < kMaxBackoff) ++backoff_;
    }
    flush_acks(true);
    if (elapsed(t, last_tx_ns_) >= config_.timing.heartbeat_interval_ns) send_control(FrameType::heartbeat);
}

bool Transport::peer_silent() const {
    if (state_ == State::idle) return false;
    return elapsed(now(), last_heard_ns_) >= config_.timing.silence_timeout_ns;
}

// ---- receiving ----------------------------------------------------------------------------

void Transport::on_frame(std::span<const std::uint8_t> bytes) {
    if (state_ == State::idle) return;
    const FrameDecode d = decode_frame(bytes, max_frame_for_mtu(config_.mtu), config_.protocol_version);
    if (!d.ok()) {
        if (d.reason == RejectReason::not_tandem) {
            ++stats_.ignored;
            return;
        }
        ++stats_.rejects[static_cast<std::size_t>(d.reason)];
        if (d.reason == RejectReason::version_mismatch && !same_mac(d.frame.eth.src, config_.local_mac)) {
            on_version_mismatch(d.frame, bytes, static_cast<std::uint8_t>(d.value));
            return;
        }
        ++stats_.rejected_malformed;
        return;
    }
    const DecodedFrame& f = d.frame;
    if (same_mac(f.eth.src, config_.local_mac)) {  // our own frame, echoed by a hub
        ++stats_.ignored;
        return;
    }
    bool to_us = same_mac(f.eth.dst, config_.local_mac) ||
                 (f.header.type == FrameType::hello && same_mac(f.eth.dst, kBroadcastMac));
    if (!to_us) {
        ++stats_.ignored;
        return;
    }
    if (have_peer_mac_ && !same_mac(f.eth.src, peer_mac_)) {
        ++stats_.rejected_source;
        return;
    }
    switch (f.header.type) {
    case FrameType::hello:
        on_hello(f);
        break;
    case FrameType::hello_ack:
        on_hello_ack(f);
        break;
    default:
        on_keyed_frame(f);
        break;
    }
    flush_acks(false);
}

void Transport::on_version_mismatch(const DecodedFrame& frame, std::span<const std::uint8_t> bytes, std::uint8_t version) {
    // Only a frame whose version-invariant checksum holds speaks for the peer; anything else is
    // a damaged frame of our own version.
    if (!verify_public_checksum(bytes)) {
        ++stats_.rejected_bad_tag;
        return;
    }
    if (state_ == State::established) {
        ++stats_.peer_hellos_after_established;
        return;
    }
    refuse(HandshakeFailure{HandshakeField::protocol_version, config_.protocol_version, version, false}, frame.eth.src, 0);
}

void Transport::on_hello(const DecodedFrame& f) {
    if (!verify_frame(f, nullptr)) {
        ++stats_.rejected_bad_tag;
        return;
    }
    auto params = decode_hello(f.payload);
    if (!params) {
        ++stats_.rejected_malformed;
        return;
    }
    const std::uint64_t session = f.header.session;
    if (session == config_.session_id || session == 0) {  // reflected, or nonsense
        ++stats_.rejected_session;
        return;
    }
    switch (state_) {
    case State::refused:
        refuse(refusal_, f.eth.src, session);  // repeat the reason to a peer that asks again
        return;
    case State::established:
        if (session == peer_session_) {
            send_hello_ack(HelloAck{HandshakeField::none, peer_session_, 0, 0}, peer_mac_);  // our answer was lost
        } else {
            ++stats_.peer_hellos_after_established;
        }
        return;
    case State::connecting:
        break;
    case State::idle:
        return;
    }
    if (auto failure = check_handshake(local_params_, *params)) {
        refuse(*failure, f.eth.src, session);
        return;
    }
    accept_peer(f, *params);
}

void Transport::accept_peer(const DecodedFrame& f, const HandshakeParams& params) {
    if (!peer_accepted_ || peer_session_ != f.header.session) {
        peer_session_ = f.header.session;
        peer_params_ = params;
        if (!have_peer_mac_) {
            peer_mac_ = f.eth.src;
            have_peer_mac_ = true;
        }
        if (!insecure()) {
            tx_key_ = derive_traffic_key(secret_.master, config_.session_id, peer_session_);
            rx_key_ = derive_traffic_key(secret_.master, peer_session_, config_.session_id);
        }
        replay_.reset();
        peer_accepted_ = true;
        link_mtu_ = params.mtu < config_.mtu ? params.mtu : config_.mtu;
    }
    send_hello_ack(HelloAck{HandshakeField::none, peer_session_, 0, 0}, peer_mac_);
    if (confirmed_session_ == peer_session_) become_established();
}

void Transport::on_hello_ack(const DecodedFrame& f) {
    const bool keyed = !f.plaintext();
    if (keyed && insecure()) {
        ++stats_.rejected_malformed;
        return;
    }
    crypto::Key key{};
    if (keyed) {
        key = peer_accepted_ && f.header.session == peer_session_
                  ? rx_key_
                  : derive_traffic_key(secret_.master, f.header.session, config_.session_id);
    }
    if (!verify_frame(f, keyed ? &key : nullptr)) {
        crypto::secure_zero(key);
        ++stats_.rejected_bad_tag;
        return;
    }
    std::uint8_t payload[kHelloAckPayloadSize] = {};
    if (keyed) {
        decrypt_verified_payload(f, key, payload);
    } else {
        for (std::size_t i = 0; i < kHelloAckPayloadSize; ++i) payload[i] = f.payload[i];
    }
    crypto::secure_zero(key);
    auto ack = decode_hello_ack(payload);
    if (!ack) {
        ++stats_.rejected_malformed;
        return;
    }
    if (ack->echo_session != config_.session_id || f.header.session == config_.session_id) {
        ++stats_.rejected_session;  // the answer to an earlier session of ours, or our own
        return;
    }
    if (ack->refused != HandshakeField::none) {
        if (state_ == State::connecting) {
            // The peer's values, seen from here: what it received from us is our local value.
            refusal_ = HandshakeFailure{ack->refused, ack->receiver_value, ack->sender_value, true};
            state_ = State::refused;
        }
        return;
    }
    if (!keyed && !insecure()) {  // an acceptance must prove the key
        ++stats_.rejected_malformed;
        return;
    }
    confirmed_session_ = f.header.session;
    if (state_ == State::connecting && peer_accepted_ && peer_session_ == confirmed_session_) become_established();
}

void Transport::become_established() {
    state_ = State::established;
    last_heard_ns_ = now();
}

void Transport::refuse(const HandshakeFailure& failure, const MacAddress& reply_to, std::uint64_t echo_session) {
    if (state_ != State::refused) {
        refusal_ = failure;
        state_ = State::refused;
    }
    // Tell the peer why (from its point of view the values swap). A refusal learnt from the peer
    // is repeated the same way, so either side can always report the reason.
    send_hello_ack(HelloAck{refusal_.field, echo_session, refusal_.local, refusal_.peer}, reply_to);
}

void Transport::on_keyed_frame(const DecodedFrame& f) {
    if (state_ != State::connecting && state_ != State::established) {
        ++stats_.ignored;
        return;
    }
    if (!peer_accepted_ || f.header.session != peer_session_) {
        ++stats_.rejected_session;
        return;
    }
    if (f.plaintext() != insecure()) {  // a plaintext frame on an encrypted link, or the reverse
        ++stats_.rejected_malformed;
        return;
    }
    if (!verify_frame(f, insecure() ? nullptr : &rx_key_)) {
        ++stats_.rejected_bad_tag;
        return;
    }
    if (!replay_.fresh(f.header.seq)) {
        ++stats_.rejected_replay;
        return;
    }
    replay_.record(f.header.seq);
    ++stats_.frames_received;
    last_heard_ns_ = now();
    if (state_ == State::connecting) become_established();  // the peer uses the keys: it accepted us
    process_acks(f.header.ack, f.header.ack_bitmap, f.header.type == FrameType::nack);
    if (is_message_type(f.header.type)) on_message_frame(f);
}

void Transport::on_message_frame(const DecodedFrame& f) {
    const std::uint64_t m = f.header.msg;
    if (m <= delivered_) {
        ++stats_.duplicates;
        ack_now_ = true;  // the sender retransmitted: our ack was lost
        return;
    }
    if (m - delivered_ > kMaxWindow) {  // beyond any window the sender may use
        ++stats_.protocol_errors;
        return;
    }
    RecvSlot& slot = recv_[m % kMaxWindow];
    if (slot.filled) {
        ++stats_.duplicates;
        ack_now_ = true;
        return;
    }
    decrypt_verified_payload(f, rx_key_, std::span<std::uint8_t>(slot.payload, f.payload.size()));
    slot.length = static_cast<std::uint16_t>(f.payload.size());
    slot.type = f.header.type;
    slot.epoch = f.header.epoch;
    slot.filled = true;
    if (!ack_pending_) {
        ack_pending_ = true;
        ack_pending_since_ns_ = now();
    }
    ++unacked_messages_;
    if (m != delivered_ + 1) {
        // A gap: ask for the holes at once (rate-limited).
        std::uint64_t t = now();
        if (!nack_sent_ || elapsed(t, last_nack_ns_) >= config_.timing.nack_interval_ns) {
            nack_sent_ = true;
            last_nack_ns_ = t;
            send_control(FrameType::nack);
        }
        return;
    }
    while (recv_[(delivered_ + 1) % kMaxWindow].filled) {
        RecvSlot& next = recv_[(delivered_ + 1) % kMaxWindow];
        next.filled = false;  // before the callback: a send() from it must not sack this slot
        ++delivered_;
        ++stats_.messages_delivered;
        sink_.on_message(Message{next.type, next.epoch, delivered_, std::span<const std::uint8_t>(next.payload, next.length)});
    }
}

void Transport::process_acks(std::uint64_t ack, std::uint64_t bitmap, bool nack) {
    if (ack >= next_msg_) {  // acknowledges a message never sent
        ++stats_.protocol_errors;
        return;
    }
    const std::uint64_t t = now();
    bool progress = false;
    while (acked_ < ack) {
        ++acked_;
        SendSlot& s = send_[acked_ % kMaxWindow];
        if (s.in_use && s.msg == acked_) {
            if (s.transmissions == 1 && !s.sacked) rtt_sample(elapsed(t, s.first_sent_ns));  // Karn
            s.in_use = false;
        }
        progress = true;
    }
    for (std::uint64_t i = 0; i < 64 && bitmap != 0; ++i) {
        if ((bitmap >> i & 1u) == 0) continue;
        std::uint64_t m = ack + 2 + i;
        if (m >= next_msg_) break;
        if (m <= acked_) continue;
        SendSlot& s = send_[m % kMaxWindow];
        if (s.in_use && s.msg == m && !s.sacked) {
            s.sacked = true;
            if (s.transmissions == 1) rtt_sample(elapsed(t, s.first_sent_ns));
        }
    }
    if (progress) backoff_ = 0;
    if (bitmap != 0 || nack) fast_retransmit(nack);
}

void Transport::fast_retransmit(bool nack) {
    const std::uint64_t t = now();
    const std::uint64_t guard = have_rtt_ ? srtt_ns_ + 4 * rttvar_ns_ : config_.timing.initial_rto_ns / 2;
    std::uint32_t sacked_above = 0;
    for (std::uint64_t m = next_msg_ - 1; m > acked_; --m) {
        SendSlot& s = send_[m % kMaxWindow];
        if (!s.in_use || s.msg != m) continue;
        if (s.sacked) {
            ++sacked_above;
            continue;
        }
        bool shown_missing = sacked_above >= kDupThreshold || (nack && sacked_above > 0);
        if (shown_missing && elapsed(t, s.last_sent_ns) >= guard) retransmit(s, true);
    }
}

// ---- reporting ----------------------------------------------------------------------------

void Transport::report(Writer& w) const {
    println(w, "link: {} as {}, session {}, peer session {}, MTU {}, window {}", transport_state_name(state_),
            role_name(config_.role), hex_fixed(config_.session_id), hex_fixed(peer_session_), link_mtu_, config_.window);
    if (insecure()) {
        println(w, "link: INSECURE (insecure_link=1): frames are checksummed, not encrypted or authenticated");
    } else {
        println(w, "link: ChaCha20-Poly1305, key id {}", hex_fixed(secret_.key_id));
    }
    if (state_ == State::refused) {
        print_handshake_failure(w, refusal_);
        w.write("\n");
    }
    const TransportStats& s = stats_;
    println(w, "link: frames sent {} received {}; messages sent {} delivered {} in flight {}", s.frames_sent,
            s.frames_received, s.messages_sent, s.messages_delivered, in_flight());
    println(w, "link: retransmitted {} (fast {}, timeouts {}), duplicates {}, acks {}, nacks {}, heartbeats {}",
            s.retransmissions, s.fast_retransmissions, s.timeouts, s.duplicates, s.acks_sent, s.nacks_sent,
            s.heartbeats_sent);
    println(w, "link: rtt {} us (variation {} us), retransmission timeout {} us", srtt_ns_ / 1000, rttvar_ns_ / 1000,
            current_rto() / 1000);
    println(w, "link: rejected: bad tag {}, replay {}, malformed {}, wrong session {}, wrong source {}; ignored {}",
            s.rejected_bad_tag, s.rejected_replay, s.rejected_malformed, s.rejected_session, s.rejected_source,
            s.ignored);
    if (state_ != State::idle) {
        std::uint64_t t = now();
        if (peer_silent()) {
            println(w, "link: peer silent since {} ms (for {} ms)", last_heard_ns_ / 1'000'000,
                    elapsed(t, last_heard_ns_) / 1'000'000);
        } else {
            println(w, "link: peer last heard {} us ago", elapsed(t, last_heard_ns_) / 1000);
        }
    }
}

}  // namespace tandem::link
