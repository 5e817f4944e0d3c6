#include "replication/link/transport.hpp"

#include "replication/crypto/constant_time.hpp"
#include "replication/link/frame_seal.hpp"

namespace tandem::link {
namespace {

// A message is presumed lost once this many messages sent after it are selectively acked (the
// "duplicate ack threshold" of TCP, RFC 5681 §3.2, RFC 6675 §2); raised when the link is seen
// to reorder that much (as Linux does), so reordering is not taken for loss.
constexpr std::uint32_t kDupThreshold = 3;
constexpr std::uint32_t kMaxDupThreshold = Transport::kMaxWindow - 1;
constexpr std::uint32_t kMaxBackoff = 16;
constexpr std::uint64_t kNever = ~std::uint64_t{0};
constexpr std::uint32_t kRoundSamples = 8;
constexpr std::uint64_t kMaxAckTimeoutRtos = 4;  // the ack timeout never exceeds 4 min_rto

std::uint64_t elapsed(std::uint64_t now, std::uint64_t since) { return now >= since ? now - since : 0; }
std::uint32_t min_u32(std::uint32_t a, std::uint32_t b) { return a < b ? a : b; }
std::uint32_t max_u32(std::uint32_t a, std::uint32_t b) { return a > b ? a : b; }

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
    if (config.initial_cwnd == 0 || config.initial_cwnd > kMaxWindow) {
        return Error::of("link: initial_cwnd outside 1..64", config.initial_cwnd);
    }
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
    snd_nxt_ = 1;
    acked_ = 0;
    have_rtt_ = false;
    srtt_ns_ = rttvar_ns_ = min_rtt_ns_ = 0;
    rto_ns_ = config_.timing.initial_rto_ns;
    backoff_ = 0;
    rto_armed_ = false;
    rto_start_ns_ = 0;
    last_tx_ns_ = 0;
    cwnd_ = min_u32(config_.initial_cwnd, config_.window);
    ssthresh_ = config_.window;
    cwnd_acc_ = 0;
    in_recovery_ = recovery_by_timeout_ = fast_retransmit_due_ = false;
    recovery_point_ = 0;
    sacked_count_ = lost_count_ = 0;
    rack_seq_ = rack_rtt_ns_ = rack_ns_ = reorder_ns_ = 0;
    rack_armed_ = false;
    rack_deadline_ns_ = 0;
    dupthresh_ = kDupThreshold;
    probe_out_ = false;
    probe_start_ns_ = 0;
    round_start_ns_ = round_min_ns_ = last_round_min_ns_ = 0;
    round_samples_ = 0;
    queueing_ = false;
    replay_.reset();
    delivered_ = 0;
    ack_pending_ = ack_now_ = nack_now_ = false;
    highest_received_ = 0;
    unacked_messages_ = 0;
    ack_pending_since_ns_ = 0;
    last_arrival_ns_ = 0;
    arrival_gap_ns_ = 0;
    nack_sent_ = false;
    last_nack_ns_ = 0;
    for (auto& s : send_) {
        s.in_use = false;
        s.sacked = false;
        s.lost = false;
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
        ack_now_ = nack_now_ = false;
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
    const std::uint64_t seq = next_seq_;  // transmit() gives the frame this number
    transmit(h, std::span<const std::uint8_t>(slot.payload, slot.length), false, nullptr);
    const std::uint64_t t = now();
    if (slot.transmissions == 0) {
        slot.first_sent_ns = t;
        slot.first_seq = seq;
        ++stats_.messages_sent;
    }
    slot.last_sent_ns = t;
    slot.last_seq = seq;
    ++slot.transmissions;
    if (!probe_out_) probe_start_ns_ = t;
    if (!rto_armed_) {  // RFC 6298 §5.1
        rto_armed_ = true;
        rto_start_ns_ = t;
    }
}

void Transport::retransmit(SendSlot& slot) {
    const bool fast = !slot.lost || !slot.lost_by_timeout;
    if (slot.lost) {
        slot.lost = false;
        --lost_count_;
    }
    transmit_message(slot);
    ++stats_.retransmissions;
    if (fast) ++stats_.fast_retransmissions;
    // The timer covers the oldest message: give its new copy a full RTO.
    if (slot.msg == acked_ + 1) rto_start_ns_ = slot.last_sent_ns;
}

// Messages in the network (RFC 6675 "pipe"): transmitted, not acknowledged, not presumed lost.
std::uint32_t Transport::pipe() const {
    return static_cast<std::uint32_t>(snd_nxt_ - 1 - acked_) - sacked_count_ - lost_count_;
}

// What the congestion window allows: lost messages first (oldest first), then queued ones.
void Transport::send_queued() {
    if (state_ != State::established) return;
    if (lost_count_ == 0 && snd_nxt_ == next_msg_) return;
    if (lost_count_ != 0) {
        // Entering recovery, the oldest lost message goes at once, whatever the pipe (RFC 6675 §5).
        bool first = fast_retransmit_due_;
        fast_retransmit_due_ = false;
        for (std::uint64_t m = acked_ + 1; m < snd_nxt_ && lost_count_ != 0 && (first || pipe() < cwnd_); ++m) {
            SendSlot& s = send_[m % kMaxWindow];
            if (s.in_use && s.msg == m && s.lost) {
                retransmit(s);
                first = false;
            }
        }
    }
    while (snd_nxt_ < next_msg_ && pipe() < cwnd_) {
        SendSlot& s = send_[snd_nxt_ % kMaxWindow];
        ++snd_nxt_;
        transmit_message(s);
    }
}

void Transport::mark_lost(SendSlot& slot, bool by_timeout) {
    slot.lost = true;
    slot.lost_by_timeout = by_timeout;
    ++lost_count_;
    ++stats_.lost_marked;
}

void Transport::restart_rto_timer() {
    rto_armed_ = acked_ + 1 < snd_nxt_;
    rto_start_ns_ = now();
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
    slot.lost = false;
    slot.transmissions = 0;
    send_queued();
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
// Only valid samples (Karn: from messages sent once) get here, and one clears the backoff
// (§5.7: the backed-off RTO is kept until then).
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
    backoff_ = 0;
}

// The round trip of the newest message an ack covers (the one that made the receiver ack, so
// little of the receiver's ack delay is in it) measures the path: its minimum is the round trip
// without a queue, and the least sample of a round shows the queue that stands meanwhile
// (jitter and ack delays raise some samples, a standing queue raises all of them).
//  - A loss-based controller alone grows into any buffer up to the window: 64 frames, 64 ms at
//    one frame per millisecond, and with data both ways the acks of one direction wait behind
//    the other's queue, so the round trip doubles and a full window carries half the rate.
//    While a queue of at least one minimum round trip stands, the window does not grow (and
//    slow start ends), never below two acks' worth (2 * ack_every, where the receiver's ack
//    delay rather than a queue sets the round trip).
//  - It tells congestion from damage: a loss with such a queue halves the window; a loss on
//    a path without one (a flipped bit, a lossy cable, a test) is only repaired, unless many
//    messages are missing at once (detect_losses()).
void Transport::delay_sample(std::uint64_t r) {
    if (r == 0) r = 1;
    if (min_rtt_ns_ == 0 || r < min_rtt_ns_) min_rtt_ns_ = r;
    if (round_min_ns_ == 0 || r < round_min_ns_) round_min_ns_ = r;
    ++round_samples_;
    const std::uint64_t t = now();
    // A round: at least one SRTT and kRoundSamples samples (the least of a few is noise where
    // the round trip jitters).
    if (elapsed(t, round_start_ns_) < srtt_ns_ || round_samples_ < kRoundSamples) return;
    last_round_min_ns_ = round_min_ns_;
    round_min_ns_ = 0;
    round_samples_ = 0;
    round_start_ns_ = t;
    queueing_ = last_round_min_ns_ >= 2 * min_rtt_ns_;
    if (queueing_ && cwnd_ < ssthresh_) ssthresh_ = max_u32(cwnd_, min_u32(2 * config_.ack_every, config_.window));
}

// RFC 6298 §5.4-5.6 with RFC 5681 §3.1: every unacknowledged message is presumed lost, the
// congestion window restarts at one message (slow start up to half the old window), the RTO
// doubles. The oldest message goes out at once; the rest follow as acks open the window, so a
// spurious timeout (a queue grew past the RTO) costs a few frames, and the acks of the
// originals, still arriving, clear the rest.
void Transport::on_retransmission_timeout() {
    ++stats_.timeouts;
    const auto flight = static_cast<std::uint32_t>(snd_nxt_ - 1 - acked_);
    if (!(in_recovery_ && recovery_by_timeout_)) ssthresh_ = max_u32(min_u32(cwnd_, flight) / 2, 2);
    cwnd_ = 1;
    cwnd_acc_ = 0;
    for (std::uint64_t m = acked_ + 1; m < snd_nxt_; ++m) {
        SendSlot& s = send_[m % kMaxWindow];
        if (s.in_use && s.msg == m && !s.sacked && !s.lost) mark_lost(s, true);
    }
    in_recovery_ = true;
    recovery_by_timeout_ = true;
    recovery_point_ = snd_nxt_ - 1;
    rack_armed_ = false;
    if (backoff_ < kMaxBackoff) ++backoff_;
    rto_armed_ = true;
    rto_start_ns_ = now();
    send_queued();
}

// How long an ack may wait for more messages (or for a frame of ours to ride on): ack_delay,
// or the time ack_every messages take to arrive at the pace they come, whichever is longer.
// On a path that delivers a frame per millisecond a fixed sub-millisecond delay would send a
// pure ack for every message: with data both ways, those acks take half of each direction.
std::uint64_t Transport::ack_timeout() const {
    std::uint64_t pace = arrival_gap_ns_ * config_.ack_every;
    std::uint64_t limit = config_.timing.min_rto_ns * kMaxAckTimeoutRtos;  // bounded: inside the peer's RTO
    if (pace > limit) pace = limit;
    return pace > config_.timing.ack_delay_ns ? pace : config_.timing.ack_delay_ns;
}

// RFC 8985 §7 (tail loss probe): when acks stop while messages are out (the last ones of a
// burst lost, or their acks), waiting for the RTO would cost a backed-off timeout and the window.
// After two round trips (and the peer's ack delay) one message is sent to draw an ack: a queued
// one, else the newest outstanding again. Its ack's selective-ack bits let the usual loss
// detection find what is missing. One probe per silence; the RTO remains the last resort.
std::uint64_t Transport::probe_timeout() const {
    std::uint64_t pto = 2 * srtt_ns_ + config_.timing.ack_delay_ns;
    std::uint64_t rto = current_rto();
    return pto < rto ? pto : rto;
}

void Transport::send_probe() {
    probe_out_ = true;
    ++stats_.probes;
    if (snd_nxt_ < next_msg_) {
        SendSlot& s = send_[snd_nxt_ % kMaxWindow];
        ++snd_nxt_;
        transmit_message(s);
        return;
    }
    for (std::uint64_t m = snd_nxt_ - 1; m > acked_; --m) {
        SendSlot& s = send_[m % kMaxWindow];
        if (s.in_use && s.msg == m && !s.sacked) {
            retransmit(s);
            return;
        }
    }
}

void Transport::flush_acks(bool timer) {
    if (state_ != State::established) return;
    bool due = ack_now_ || unacked_messages_ >= config_.ack_every;
    if (timer && ack_pending_ && elapsed(now(), ack_pending_since_ns_) >= ack_timeout()) due = true;
    if (due && (ack_pending_ || ack_now_)) send_control(nack_now_ ? FrameType::nack : FrameType::ack);
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
    if (rto_armed_ && acked_ + 1 < snd_nxt_ && elapsed(t, rto_start_ns_) >= current_rto()) {
        on_retransmission_timeout();
    } else if (rack_armed_ && t >= rack_deadline_ns_) {
        detect_losses();
    } else if (!probe_out_ && have_rtt_ && acked_ + 1 < snd_nxt_ && elapsed(t, probe_start_ns_) >= probe_timeout()) {
        send_probe();
    }
    send_queued();
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
    send_queued();
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
    process_acks(f.header.ack, f.header.ack_bitmap);
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
    note_arrival();
    const std::uint64_t top = highest_received_ > delivered_ ? highest_received_ : delivered_;
    if (m > top) highest_received_ = m;
    if (m != delivered_ + 1) {
        // A new hole (messages skipped): show it to the sender at once, on the next frame that
        // leaves (on_frame() sends what the window allows first), else in a NACK; rate-limited.
        // Arrivals above a hole already shown are acked as usual (ack_every, the ack timeout).
        std::uint64_t t = now();
        if (m > top + 1 && (!nack_sent_ || elapsed(t, last_nack_ns_) >= config_.timing.nack_interval_ns)) {
            nack_sent_ = true;
            last_nack_ns_ = t;
            nack_now_ = ack_now_ = true;
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

// The pace of message arrivals: a moving average of the gaps (a pause longer than the longest
// ack timeout is not a gap but the end of a burst).
void Transport::note_arrival() {
    const std::uint64_t t = now();
    if (last_arrival_ns_ != 0) {
        std::uint64_t gap = elapsed(t, last_arrival_ns_);
        if (gap <= kMaxAckTimeoutRtos * config_.timing.min_rto_ns) arrival_gap_ns_ = (7 * arrival_gap_ns_ + gap) / 8;
    }
    last_arrival_ns_ = t;
}

void Transport::process_acks(std::uint64_t ack, std::uint64_t bitmap) {
    if (ack >= snd_nxt_) {  // acknowledges a message never sent
        ++stats_.protocol_errors;
        return;
    }
    const std::uint64_t t = now();
    std::uint64_t sample_sent_ns = kNever;  // the oldest and the newest message sent once it covers
    std::uint64_t newest_sent_ns = 0;
    std::uint32_t delivered = 0;
    retransmitted_delivered_ = false;
    bool progress = false;
    while (acked_ < ack) {
        ++acked_;
        SendSlot& s = send_[acked_ % kMaxWindow];
        if (s.in_use && s.msg == acked_) {
            if (s.sacked) {
                --sacked_count_;
            } else {
                newly_delivered(s, t, sample_sent_ns, newest_sent_ns);
                ++delivered;
            }
            if (s.lost) --lost_count_;
            s.in_use = s.sacked = s.lost = false;
        }
        progress = true;
    }
    for (std::uint64_t i = 0; i < 64 && bitmap != 0; ++i) {
        if ((bitmap >> i & 1u) == 0) continue;
        std::uint64_t m = ack + 2 + i;
        if (m >= snd_nxt_) break;
        if (m <= acked_) continue;
        SendSlot& s = send_[m % kMaxWindow];
        if (s.in_use && s.msg == m && !s.sacked) {
            if (s.lost) {  // it arrived after all
                s.lost = false;
                --lost_count_;
            }
            s.sacked = true;
            ++sacked_count_;
            newly_delivered(s, t, sample_sent_ns, newest_sent_ns);
            ++delivered;
        }
    }
    // One sample per ack for the timer, from the oldest message it newly covers: what the
    // oldest outstanding message can take (acks are delayed and coalesced) is what the timer
    // must allow for; and one of the path, from the newest. None from an ack that also covers a
    // retransmitted message (Karn, per ack, as Linux does): the retransmission may be what made
    // the peer ack, and then the other messages' times measure the outage, not the path.
    if (sample_sent_ns != kNever && !retransmitted_delivered_) {
        rtt_sample(elapsed(t, sample_sent_ns));
        delay_sample(elapsed(t, newest_sent_ns));
    }
    if (progress) {
        restart_rto_timer();  // RFC 6298 §5.2, §5.3
        if (in_recovery_ && acked_ >= recovery_point_) in_recovery_ = recovery_by_timeout_ = false;
    }
    if (delivered != 0) {
        grow_cwnd(delivered);
        probe_out_ = false;
        probe_start_ns_ = t;
    }
    detect_losses();
    // What the acks allow is sent by on_frame() once the frame's message is in: so that the
    // frames going out carry its ack too.
}

// A message newly known to have arrived (cumulatively or selectively acked).
void Transport::newly_delivered(SendSlot& s, std::uint64_t t, std::uint64_t& sample_sent_ns,
                                std::uint64_t& newest_sent_ns) {
    if (s.transmissions == 1) {  // Karn
        if (s.first_sent_ns < sample_sent_ns) sample_sent_ns = s.first_sent_ns;
        if (s.first_sent_ns > newest_sent_ns) newest_sent_ns = s.first_sent_ns;
    } else {
        retransmitted_delivered_ = true;
    }
    // Which copy arrived is known for a message sent once, and for one acked sooner after its
    // last copy than any round trip takes: an earlier copy did (the retransmission was
    // spurious: reordering, or a delay, was taken for loss).
    const bool original = s.transmissions == 1 || elapsed(t, s.last_sent_ns) < min_rtt_ns_;
    if (s.transmissions > 1 && original) ++stats_.spurious_retransmissions;
    // RACK: the newest transmission known to have arrived. For a retransmitted message assume
    // the first copy (the least it can prove). First transmissions go out in message order, so
    // first_seq grows with the message number.
    if (s.first_seq > rack_seq_) {
        rack_seq_ = s.first_seq;
        rack_rtt_ns_ = elapsed(t, s.first_sent_ns);
        rack_ns_ = t;
    } else if (original) {
        // It arrived after a message sent later had been acked: reordering, this late, and past
        // this many messages (those sent after it and selectively acked before it).
        std::uint64_t late = elapsed(t, rack_ns_);
        if (late > reorder_ns_) reorder_ns_ = late;
        if (dupthresh_ < kMaxDupThreshold && snd_nxt_ - 1 - s.msg >= dupthresh_) {
            std::uint32_t overtaken = 0;
            for (std::uint64_t m = s.msg + 1; m < snd_nxt_; ++m) {
                const SendSlot& o = send_[m % kMaxWindow];
                if (o.in_use && o.msg == m && o.sacked) ++overtaken;
            }
            if (overtaken >= dupthresh_) dupthresh_ = overtaken + 1 < kMaxDupThreshold ? overtaken + 1 : kMaxDupThreshold;
        }
    }
}

// RFC 8985 §6.2: the reordering allowance. A quarter of the minimum RTT, or the lateness seen
// on this link when that is more, but never above one smoothed RTT.
std::uint64_t Transport::reordering_window() const {
    std::uint64_t w = min_rtt_ns_ / 4;
    if (reorder_ns_ + reorder_ns_ / 4 > w) w = reorder_ns_ + reorder_ns_ / 4;
    if (w > srtt_ns_) w = srtt_ns_;
    return w;
}

// Presumes lost every outstanding message that dupthresh messages sent after it have overtaken
// (selectively acked), or that a message sent after it overtook longer ago than the reordering
// window allows (RACK, RFC 8985 §6.2); arms the RACK timer for the ones not due yet. A loss
// while a queue stands, or a burst of them, is congestion (the window is halved); otherwise it
// is damage (a flipped bit, a lossy wire): the message is resent without slowing down.
void Transport::detect_losses() {
    rack_armed_ = false;
    if (acked_ + 1 >= snd_nxt_) return;
    const std::uint64_t t = now();
    // The dupthresh-th newest transmission among the selectively acked messages (first
    // transmissions go out in message order: the dupthresh-th highest numbered one).
    std::uint64_t dup_seq = 0;
    if (sacked_count_ >= dupthresh_) {
        std::uint32_t seen = 0;
        for (std::uint64_t m = snd_nxt_ - 1; m > acked_; --m) {
            const SendSlot& s = send_[m % kMaxWindow];
            if (s.in_use && s.msg == m && s.sacked && ++seen == dupthresh_) {
                dup_seq = s.first_seq;
                break;
            }
        }
    }
    const std::uint64_t allowance = rack_rtt_ns_ + reordering_window();
    std::uint32_t found = 0;
    for (std::uint64_t m = acked_ + 1; m < snd_nxt_; ++m) {
        SendSlot& s = send_[m % kMaxWindow];
        if (!s.in_use || s.msg != m || s.sacked || s.lost) continue;
        bool lost = s.last_seq < dup_seq;
        if (!lost && s.last_seq < rack_seq_) {
            std::uint64_t due = s.last_sent_ns + allowance;
            if (t >= due) {
                lost = true;
            } else if (!rack_armed_ || due < rack_deadline_ns_) {
                rack_armed_ = true;
                rack_deadline_ns_ = due;
            }
        }
        if (lost) {
            mark_lost(s, false);
            ++found;
        }
    }
    if (found == 0) return;
    // Congestion: a queue stands, or many messages at once are missing (a shallow buffer
    // overflows before any queueing delay shows, and damage rarely takes an eighth of a window).
    const auto flight = static_cast<std::uint32_t>(snd_nxt_ - 1 - acked_);
    const bool burst = lost_count_ > 2 && lost_count_ * 8 > flight;
    if (!in_recovery_ && (queueing_ || burst)) {
        enter_recovery();
    } else {
        fast_retransmit_due_ = true;
    }
}

// RFC 6675 §5 / RFC 5681 §3.2: halve the congestion window once per window of data, and
// retransmit the oldest lost message at once (the rest as the window allows).
void Transport::enter_recovery() {
    ++stats_.recoveries;
    const auto flight = static_cast<std::uint32_t>(snd_nxt_ - 1 - acked_);
    ssthresh_ = max_u32(min_u32(cwnd_, flight) / 2, 2);
    cwnd_ = ssthresh_;
    cwnd_acc_ = 0;
    in_recovery_ = true;
    recovery_by_timeout_ = false;
    recovery_point_ = snd_nxt_ - 1;
    fast_retransmit_due_ = true;
}

// Slow start below ssthresh (one message per message acked), then one message per window
// (RFC 5681 §3.1); not while recovering from a loss found by acks; never above the window.
void Transport::grow_cwnd(std::uint32_t acked_messages) {
    if (in_recovery_ && !recovery_by_timeout_) return;
    if (queueing_ && cwnd_ >= min_u32(2 * config_.ack_every, config_.window)) return;
    const std::uint32_t cap = config_.window;
    while (acked_messages != 0 && cwnd_ < cap) {
        if (cwnd_ < ssthresh_) {
            ++cwnd_;
            --acked_messages;
            continue;
        }
        cwnd_acc_ += acked_messages;
        acked_messages = 0;
        if (cwnd_acc_ >= cwnd_) {
            cwnd_acc_ -= cwnd_;
            ++cwnd_;
        }
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
    println(w, "link: retransmitted {} (fast {}, timeouts {}, probes {}, spurious {}), window halvings {}, duplicates {}, "
            "acks {}, nacks {}, heartbeats {}", s.retransmissions, s.fast_retransmissions, s.timeouts, s.probes,
            s.spurious_retransmissions, s.recoveries, s.duplicates, s.acks_sent, s.nacks_sent, s.heartbeats_sent);
    println(w, "link: rtt {} us (variation {} us, min {} us), retransmission timeout {} us; congestion window {} "
            "(threshold {}, {}), {} queued", srtt_ns_ / 1000, rttvar_ns_ / 1000, min_rtt_ns_ / 1000,
            current_rto() / 1000, cwnd_, ssthresh_, queueing_ ? "queue standing" : "no queue", queued());
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
