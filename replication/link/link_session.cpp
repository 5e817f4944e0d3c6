#include "replication/link/link_session.hpp"

#include "replication/crypto/constant_time.hpp"
#include "replication/link/frame_seal.hpp"
#include "replication/link/link_time.hpp"

namespace tandem::link {

void LinkSession::reset() {
    state_ = State::idle;
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
    replay_.reset();
}

void LinkSession::start(const TransportConfig& config, const LinkSecret& secret, std::uint64_t now) {
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
    last_heard_ns_ = now;
    next_hello_ns_ = now + config.timing.hello_interval_ns;
}

bool LinkSession::hello_due(std::uint64_t now) {
    if (state_ != State::connecting || now < next_hello_ns_) return false;
    next_hello_ns_ = now + config_.timing.hello_interval_ns;
    return true;
}

bool LinkSession::peer_silent(std::uint64_t now) const {
    if (state_ == State::idle) return false;
    return elapsed(now, last_heard_ns_) >= config_.timing.silence_timeout_ns;
}

LinkSession::Reply LinkSession::on_version_mismatch(const DecodedFrame& frame, std::span<const std::uint8_t> bytes,
                                                    std::uint8_t version) {
    // Only a frame whose version-invariant checksum holds speaks for the peer; anything else is
    // a damaged frame of our own version.
    if (!verify_public_checksum(bytes)) {
        ++stats_.rejected_bad_tag;
        return {};
    }
    if (state_ == State::established) {
        ++stats_.peer_hellos_after_established;
        return {};
    }
    return refuse(HandshakeFailure{HandshakeField::protocol_version, config_.protocol_version, version, false},
                  frame.eth.src, 0);
}

LinkSession::Reply LinkSession::on_hello(const DecodedFrame& f, std::uint64_t now) {
    if (!verify_frame(f, nullptr)) {
        ++stats_.rejected_bad_tag;
        return {};
    }
    auto params = decode_hello(f.payload);
    if (!params) {
        ++stats_.rejected_malformed;
        return {};
    }
    const std::uint64_t session = f.header.session;
    if (session == config_.session_id || session == 0) {  // reflected, or nonsense
        ++stats_.rejected_session;
        return {};
    }
    switch (state_) {
    case State::refused:
        return refuse(refusal_, f.eth.src, session);  // repeat the reason to a peer that asks again
    case State::established:
        if (session == peer_session_) {  // our answer was lost
            return Reply{true, HelloAck{HandshakeField::none, peer_session_, 0, 0}, peer_mac_};
        }
        ++stats_.peer_hellos_after_established;
        return {};
    case State::connecting:
        break;
    case State::idle:
        return {};
    }
    if (auto failure = check_handshake(local_params_, *params)) return refuse(*failure, f.eth.src, session);
    return accept_peer(f, *params, now);
}

LinkSession::Reply LinkSession::accept_peer(const DecodedFrame& f, const HandshakeParams& params, std::uint64_t now) {
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
    if (confirmed_session_ == peer_session_) become_established(now);
    return Reply{true, HelloAck{HandshakeField::none, peer_session_, 0, 0}, peer_mac_};
}

// Verifies a HELLO_ACK (under the traffic key from its sender's session when keyed, the public
// checksum otherwise) and decodes its payload.
bool LinkSession::read_hello_ack(const DecodedFrame& f, HelloAck& out) {
    const bool keyed = !f.plaintext();
    if (keyed && insecure()) {
        ++stats_.rejected_malformed;
        return false;
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
        return false;
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
        return false;
    }
    out = *ack;
    return true;
}

void LinkSession::on_hello_ack(const DecodedFrame& f, std::uint64_t now) {
    HelloAck ack;
    if (!read_hello_ack(f, ack)) return;
    if (ack.echo_session != config_.session_id || f.header.session == config_.session_id) {
        ++stats_.rejected_session;  // the answer to an earlier session of ours, or our own
        return;
    }
    if (ack.refused != HandshakeField::none) {
        if (state_ == State::connecting) {
            // The peer's values, seen from here: what it received from us is our local value.
            refusal_ = HandshakeFailure{ack.refused, ack.receiver_value, ack.sender_value, true};
            state_ = State::refused;
        }
        return;
    }
    if (f.plaintext() && !insecure()) {  // an acceptance must prove the key
        ++stats_.rejected_malformed;
        return;
    }
    confirmed_session_ = f.header.session;
    if (state_ == State::connecting && peer_accepted_ && peer_session_ == confirmed_session_) become_established(now);
}

void LinkSession::become_established(std::uint64_t now) {
    state_ = State::established;
    last_heard_ns_ = now;
}

LinkSession::Reply LinkSession::refuse(const HandshakeFailure& failure, const MacAddress& reply_to,
                                       std::uint64_t echo_session) {
    if (state_ != State::refused) {
        refusal_ = failure;
        state_ = State::refused;
    }
    // Tell the peer why (from its point of view the values swap). A refusal learnt from the peer
    // is repeated the same way, so either side can always report the reason.
    return Reply{true, HelloAck{refusal_.field, echo_session, refusal_.local, refusal_.peer}, reply_to};
}

bool LinkSession::admit(const DecodedFrame& f, std::uint64_t now) {
    if (state_ != State::connecting && state_ != State::established) {
        ++stats_.ignored;
        return false;
    }
    if (!peer_accepted_ || f.header.session != peer_session_) {
        ++stats_.rejected_session;
        return false;
    }
    if (f.plaintext() != insecure()) {  // a plaintext frame on an encrypted link, or the reverse
        ++stats_.rejected_malformed;
        return false;
    }
    // Only an authentic frame may move the replay window, or a forger could make real ones old.
    if (!verify_frame(f, insecure() ? nullptr : &rx_key_)) {
        ++stats_.rejected_bad_tag;
        return false;
    }
    if (!replay_.fresh(f.header.seq)) {
        ++stats_.rejected_replay;
        return false;
    }
    replay_.record(f.header.seq);
    ++stats_.frames_received;
    last_heard_ns_ = now;
    if (state_ == State::connecting) become_established(now);  // the peer uses the keys: it accepted us
    return true;
}

}  // namespace tandem::link
