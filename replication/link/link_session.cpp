#include "replication/link/link_session.hpp"

#include "replication/crypto/constant_time.hpp"
#include "replication/link/frame_seal.hpp"
#include "replication/link/link_time.hpp"

namespace tandem::link {

void LinkSession::reset() {
    state_ = State::idle;
    for (Peer* p : {&peer_, &candidates_[0], &candidates_[1], &candidates_[2], &candidates_[3]}) {
        crypto::secure_zero(p->tx_key);
        crypto::secure_zero(p->rx_key);
        *p = Peer{};
    }
    next_candidate_ = 0;
    confirmed_session_ = 0;
    refusal_ = HandshakeFailure{};
    observation_ = HandshakeFailure{};
    has_observation_ = false;
    observations_ = 0;
    pending_ = HandshakeFailure{};
    pending_repeats_ = 0;
    have_peer_mac_ = config_.has_peer_mac;
    peer_mac_ = config_.peer_mac;
    link_mtu_ = config_.mtu < kStandardMtu ? config_.mtu : kStandardMtu;  // until the peer's HELLO says
    replay_.reset();
}

void LinkSession::start(const TransportConfig& config, const LinkSecret& secret, std::uint64_t now) {
    config_ = config;
    secret_ = secret;
    reset();
    crypto::secure_zero(handshake_key_);
    if (!secret.insecure) handshake_key_ = derive_handshake_key(secret.master);
    quiet_to_newcomers_ = false;
    local_params_.role = config.role;
    local_params_.mtu = config.mtu;
    local_params_.page_size = config.page_size;
    local_params_.guest_memory = config.guest_memory;
    local_params_.features = config.features;
    local_params_.pair_mode = config.pair_mode;
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

bool LinkSession::peer_silent_for(std::uint64_t now, std::uint64_t timeout_ns) const {
    if (state_ == State::idle) return false;
    return elapsed(now, last_heard_ns_) >= timeout_ns;
}

// A handshake frame speaks for a key holder when its tag verifies under the handshake key; on an
// insecure link the public checksum is all there is.
bool LinkSession::authentic_handshake(const DecodedFrame& f, std::span<const std::uint8_t>) const {
    if (!f.plaintext()) return false;
    return verify_frame(f, nullptr, handshake_key());
}

namespace {
bool same_reason(const HandshakeFailure& a, const HandshakeFailure& b) {
    return a.field == b.field && a.local == b.local && a.peer == b.peer && a.by_peer == b.by_peer;
}
}  // namespace

// A reason is reported once the same one arrived kObservationRepeats times in a row: a peer
// that cannot connect repeats its HELLO, while a frame of our real peer damaged on the way (a
// flipped key id or version byte) is a one-off and must not be reported as a mismatch.
void LinkSession::observe(const HandshakeFailure& failure) {
    ++stats_.handshake_observations;
    HandshakeFailure f = failure;
    f.unauthenticated = true;
    if (pending_repeats_ != 0 && same_reason(f, pending_)) {
        ++pending_repeats_;
    } else {
        pending_ = f;
        pending_repeats_ = 1;
    }
    if (pending_repeats_ < kObservationRepeats) return;
    if (has_observation_ && same_reason(f, observation_)) return;  // nothing new to report
    observation_ = f;
    has_observation_ = true;
    ++observations_;
}

// A HELLO we cannot authenticate changes nothing; if its (cleartext) parameters say why — the
// peer holds another key, or none — that is worth saying.
void LinkSession::observe_unauthenticated_hello(const DecodedFrame& f) {
    ++stats_.rejected_bad_tag;
    auto params = decode_hello(f.payload);
    if (params && params->key_id != local_params_.key_id) {
        observe(HandshakeFailure{HandshakeField::key_id, local_params_.key_id, params->key_id, false});
    }
}

LinkSession::Reply LinkSession::on_version_mismatch(const DecodedFrame& frame, std::span<const std::uint8_t> bytes,
                                                    std::uint8_t version) {
    HandshakeFailure failure{HandshakeField::protocol_version, config_.protocol_version, version, false};
    if (!insecure()) {
        ++stats_.rejected_bad_tag;  // nothing of another version can be authenticated here
        observe(failure);
        return {};
    }
    // insecure_link: the version-invariant public checksum is as much as any frame carries.
    if (!verify_public_checksum(bytes)) {
        ++stats_.rejected_bad_tag;
        return {};
    }
    if (state_ != State::connecting) return {};
    return refuse(failure, frame.eth.src, 0);
}

LinkSession::Reply LinkSession::on_hello(const DecodedFrame& f, std::uint64_t now) {
    if (!authentic_handshake(f, {})) {
        observe_unauthenticated_hello(f);
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
    if (config_.has_peer_mac && !same_mac(f.eth.src, config_.peer_mac)) {
        ++stats_.rejected_source;
        return {};
    }
    switch (state_) {
    case State::refused:
        return refuse(refusal_, f.eth.src, session);  // repeat the reason to a peer that asks again
    case State::idle:
        return {};
    case State::connecting:
    case State::established:
        break;
    }
    return answer_hello(f, *params, now);
}

LinkSession::Reply LinkSession::answer_hello(const DecodedFrame& f, const HandshakeParams& params, std::uint64_t now) {
    const bool established_already = state_ == State::established;
    if (established_already && f.header.session == peer_.session) return accepting_reply(peer_, false);  // our answer was lost
    if (established_already && quiet_to_newcomers_) return {};  // a primary handing over: see the setter
    if (auto failure = check_handshake(local_params_, params)) {
        // An authentic refusal. It refuses a link that is still connecting; an established link
        // keeps its peer and only tells the newcomer why it is not welcome.
        if (established_already) {
            return Reply{true, HelloAck{failure->field, f.header.session, failure->local, failure->peer}, f.eth.src};
        }
        return refuse(*failure, f.eth.src, f.header.session);
    }
    if (insecure() && established_already) {
        // Nothing can be proven on an insecure link: a new session of the peer only counts as a
        // restart (the owner decides what that means).
        ++stats_.peer_restarts;
        return {};
    }
    Peer& c = add_candidate(f, params);
    Reply reply = accepting_reply(c, established_already);
    if (confirmed_session_ == c.session) adopt(c, now);  // its keyed acceptance came first
    return reply;
}

LinkSession::Peer* LinkSession::candidate(std::uint64_t session) {
    for (Peer& c : candidates_) {
        if (c.used && c.session == session) return &c;
    }
    return nullptr;
}

LinkSession::Peer& LinkSession::add_candidate(const DecodedFrame& f, const HandshakeParams& params) {
    Peer* c = candidate(f.header.session);
    if (c == nullptr) {
        // A few candidates at once: a replayed HELLO must not push the real peer's out before it
        // proves itself (it repeats its HELLO while connecting, so it comes back anyway).
        c = &candidates_[next_candidate_];
        next_candidate_ = (next_candidate_ + 1) % kCandidates;
        *c = Peer{};
        c->used = true;
        c->session = f.header.session;
        if (!insecure()) {
            c->tx_key = derive_traffic_key(secret_.master, config_.session_id, c->session);
            c->rx_key = derive_traffic_key(secret_.master, c->session, config_.session_id);
        }
    }
    c->params = params;
    c->mac = f.eth.src;
    return *c;
}

LinkSession::Reply LinkSession::accepting_reply(const Peer& to, bool hello_too) const {
    Reply r{true, HelloAck{HandshakeField::none, to.session, 0, 0}, to.mac, !insecure(), to.tx_key, hello_too};
    return r;
}

// The candidate proved it holds the keys of its session: it is the peer from now on.
void LinkSession::adopt(Peer& c, std::uint64_t now) {
    const bool restart = state_ == State::established && peer_.used && peer_.session != c.session;
    crypto::secure_zero(peer_.tx_key);
    crypto::secure_zero(peer_.rx_key);
    peer_ = c;
    crypto::secure_zero(c.tx_key);
    crypto::secure_zero(c.rx_key);
    c = Peer{};
    if (!config_.has_peer_mac) {
        peer_mac_ = peer_.mac;
        have_peer_mac_ = true;
    }
    link_mtu_ = peer_.params.mtu < config_.mtu ? peer_.params.mtu : config_.mtu;
    replay_.reset();
    state_ = State::established;
    last_heard_ns_ = now;
    if (restart) ++stats_.peer_restarts;
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

bool LinkSession::verify_keyed(const DecodedFrame& f, const crypto::Key& key) {
    if (!verify_frame(f, insecure() ? nullptr : &key)) {
        ++stats_.rejected_bad_tag;
        return false;
    }
    return true;
}

// Verifies a HELLO_ACK (under the traffic key from its sender's session when keyed, like a HELLO
// otherwise) and decodes its payload. An unauthenticated refusal is still decoded, to observe.
bool LinkSession::read_hello_ack(const DecodedFrame& f, HelloAck& out) {
    const bool keyed = !f.plaintext();
    if (keyed && insecure()) {
        ++stats_.rejected_malformed;
        return false;
    }
    std::uint8_t payload[kHelloAckPayloadSize] = {};
    if (keyed) {
        Peer* c = candidate(f.header.session);
        crypto::Key key = c != nullptr                                   ? c->rx_key
                          : peer_.used && f.header.session == peer_.session ? peer_.rx_key
                                                                            : derive_traffic_key(secret_.master, f.header.session,
                                                                                                 config_.session_id);
        const bool ok = verify_keyed(f, key);
        if (ok) decrypt_verified_payload(f, key, payload);
        crypto::secure_zero(key);
        if (!ok) return false;
    } else {
        for (std::size_t i = 0; i < kHelloAckPayloadSize && i < f.payload.size(); ++i) payload[i] = f.payload[i];
    }
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
    if (f.plaintext()) {
        const bool authentic = authentic_handshake(f, {});
        if (ack.refused != HandshakeField::none) return on_refusing_ack(f, ack, authentic);
        if (!authentic) {
            ++stats_.rejected_bad_tag;
            return;
        }
        if (!insecure()) {  // an acceptance must prove the key
            ++stats_.rejected_malformed;
            return;
        }
    } else if (ack.refused != HandshakeField::none) {
        ++stats_.rejected_malformed;  // refusals are never sent under a traffic key
        return;
    }
    // A keyed acceptance proves its session holds the key (on an insecure link, nothing can).
    confirmed_session_ = f.header.session;
    if (Peer* c = candidate(f.header.session); c != nullptr && state_ != State::refused) adopt(*c, now);
}

void LinkSession::on_refusing_ack(const DecodedFrame&, const HelloAck& ack, bool authentic) {
    // The peer's values, seen from here: what it received from us is our local value.
    HandshakeFailure failure{ack.refused, ack.receiver_value, ack.sender_value, true};
    if (!authentic) {
        ++stats_.rejected_bad_tag;
        observe(failure);
        return;
    }
    if (state_ == State::connecting) {
        refusal_ = failure;
        state_ = State::refused;
    }
}

bool LinkSession::admit(const DecodedFrame& f, std::uint64_t now) {
    if (state_ != State::connecting && state_ != State::established) {
        ++stats_.ignored;
        return false;
    }
    if (f.plaintext() != insecure()) {  // a plaintext frame on an encrypted link, or the reverse
        ++stats_.rejected_malformed;
        return false;
    }
    const bool current = peer_.used && f.header.session == peer_.session;
    Peer* c = current ? nullptr : candidate(f.header.session);
    if (!current && c == nullptr) {
        ++stats_.rejected_session;
        return false;
    }
    // Only an authentic frame may move the replay window, or a forger could make real ones old.
    if (!verify_keyed(f, current ? peer_.rx_key : c->rx_key)) return false;
    if (c != nullptr) adopt(*c, now);  // the candidate uses the keys: it accepted us
    if (!replay_.fresh(f.header.seq)) {
        ++stats_.rejected_replay;
        return false;
    }
    replay_.record(f.header.seq);
    ++stats_.frames_received;
    last_heard_ns_ = now;
    return true;
}

}  // namespace tandem::link
