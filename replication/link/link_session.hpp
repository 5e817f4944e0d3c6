// The replication link's session (DESIGN.md §4): the HELLO handshake, the peer it accepts, the
// traffic keys of the two sessions, and the admission of every keyed frame.
//
//  - HELLO / HELLO_ACK (hello.hpp) agree on version, role, guest memory, page size, features,
//    key and MTU. With a key, the handshake frames travel in the clear (so that a peer with
//    another key can still read why it cannot connect) but are tagged under the handshake key
//    derived from the link key (link_keys.hpp): only a key holder can make one we act on.
//  - A compatible, authentic HELLO makes its session a *candidate*: we answer with an accepting
//    HELLO_ACK under the traffic keys of that session. A candidate becomes the peer only when it
//    proves it holds those keys — an accepting HELLO_ACK of its own under them, or any keyed
//    frame of its session. Only then is the peer's MAC address learnt, and, on an established
//    link, only then does a new session replace the current one (a proven peer restart, counted
//    in TransportStats::peer_restarts). A replayed HELLO or a forged one changes nothing.
//  - Nothing that is not authenticated with the key changes the session, the peer, the keys or
//    the refusal state. A HELLO or refusal we cannot authenticate (another key, insecure_link on
//    one side only, another protocol version) is *observed*: its reason is reported
//    (observation()), the link keeps connecting. An authentic refusal (the peer holds the key and
//    its parameters conflict) refuses the link on both sides with the reason.
//  - insecure_link=1 authenticates nothing by design: there the handshake acts on checksummed
//    frames as before (and boot says loudly what that gives up).
//  - Keyed frames: from the peer's current session, encrypted unless insecure_link, the tag
//    verified, and fresh (anti-replay window of 256 frames, replay_window.hpp). Only then is the
//    peer "heard"; it is "silent" when nothing authenticated arrived for silence_timeout.
//
// This unit sends nothing itself: it says when a HELLO is due and what answers a frame (a
// Reply), and the transport seals and sends them.
#pragma once

#include <cstdint>
#include <span>

#include "replication/crypto/crypto_types.hpp"
#include "replication/link/frame.hpp"
#include "replication/link/hello.hpp"
#include "replication/link/link_keys.hpp"
#include "replication/link/replay_window.hpp"
#include "replication/link/transport_config.hpp"
#include "replication/link/transport_stats.hpp"

namespace tandem::link {

class LinkSession {
public:
    enum class State : std::uint8_t { idle, connecting, established, refused };

    // What to send in answer. An accepting HELLO_ACK goes under `key` (the traffic key towards the
    // session it accepts); a refusing one is tagged like a HELLO. `hello_too`: also send our
    // HELLO to that address (an established side answering a new session of its peer, which
    // needs our HELLO to accept us).
    struct Reply {
        bool send = false;
        HelloAck ack{};
        MacAddress to{};
        bool keyed = false;
        crypto::Key key{};
        bool hello_too = false;
    };

    explicit LinkSession(TransportStats& stats) : stats_(stats) {}
    LinkSession(const LinkSession&) = delete;
    LinkSession& operator=(const LinkSession&) = delete;

    // Forgets everything and starts connecting at `now` with `config` (check_transport_config()
    // accepted it); the caller sends the first HELLO.
    void start(const TransportConfig& config, const LinkSecret& secret, std::uint64_t now);
    // Back to idle, the traffic keys wiped: every frame is ignored from now on.
    void close() { reset(); }
    // An established primary that hands its guest over: its backup restarts its link as the new
    // primary, and this side, still established, would refuse that new session's hellos (both
    // primaries), leaving the new primary refused. Until the next start() it answers no newcomer.
    void set_quiet_to_newcomers() { quiet_to_newcomers_ = true; }
    // While connecting: a HELLO is due now (the next one is then hello_interval later).
    [[nodiscard]] bool hello_due(std::uint64_t now);

    // A frame of another protocol version (`bytes` whole): observed, or on an insecure link a
    // refusal while connecting.
    [[nodiscard]] Reply on_version_mismatch(const DecodedFrame& frame, std::span<const std::uint8_t> bytes,
                                            std::uint8_t version);
    [[nodiscard]] Reply on_hello(const DecodedFrame& frame, std::uint64_t now);
    void on_hello_ack(const DecodedFrame& frame, std::uint64_t now);
    // Any other frame: true when it is authentic and fresh from the peer's current session (or
    // from a candidate, which it makes the peer); it is then recorded as seen and the peer heard.
    [[nodiscard]] bool admit(const DecodedFrame& frame, std::uint64_t now);

    State state() const { return state_; }
    bool established() const { return state_ == State::established; }
    // Set when state() is refused.
    const HandshakeFailure* refusal() const { return state_ == State::refused ? &refusal_ : nullptr; }
    const HandshakeFailure& last_failure() const { return refusal_; }
    // The last reason seen in a frame that could not be authenticated (nullptr: none); it
    // changed nothing. observations() counts them, so an owner can report each new one.
    const HandshakeFailure* observation() const { return has_observation_ ? &observation_ : nullptr; }
    std::uint64_t observations() const { return observations_; }
    // Nothing authenticated from the peer for silence_timeout (since start, before the first).
    bool peer_silent(std::uint64_t now) const { return peer_silent_for(now, config_.timing.silence_timeout_ns); }
    // The same for another bound (a joining backup's, which is longer).
    bool peer_silent_for(std::uint64_t now, std::uint64_t timeout_ns) const;
    std::uint64_t last_heard_ns() const { return last_heard_ns_; }

    const TransportConfig& config() const { return config_; }
    bool insecure() const { return secret_.insecure; }
    std::uint64_t key_id() const { return secret_.key_id; }
    const HandshakeParams& local_params() const { return local_params_; }
    const HandshakeParams& peer_params() const { return peer_.params; }
    std::uint64_t peer_session() const { return peer_.session; }
    std::uint16_t link_mtu() const { return link_mtu_; }
    // Where frames without an explicit destination go: the peer, or broadcast until it is known.
    MacAddress destination() const { return have_peer_mac_ ? peer_mac_ : kBroadcastMac; }
    bool knows_peer_mac() const { return have_peer_mac_; }
    const MacAddress& peer_mac() const { return peer_mac_; }
    // The key a frame goes out under: none for handshake frames or on an insecure link.
    const crypto::Key* tx_key(bool handshake) const { return handshake || insecure() ? nullptr : &peer_.tx_key; }
    const crypto::Key& rx_key() const { return peer_.rx_key; }
    // The tag key of handshake frames: the handshake key, or nullptr (the public checksum) on an
    // insecure link.
    const crypto::Key* handshake_key() const { return insecure() ? nullptr : &handshake_key_; }

private:
    // A peer session: accepted (its HELLO was compatible) and, for the peer itself, proven.
    struct Peer {
        bool used = false;
        std::uint64_t session = 0;
        HandshakeParams params{};
        MacAddress mac{};
        crypto::Key tx_key{};
        crypto::Key rx_key{};
    };
    static constexpr std::size_t kCandidates = 4;
    static constexpr unsigned kObservationRepeats = 3;

    void reset();
    [[nodiscard]] bool authentic_handshake(const DecodedFrame& frame, std::span<const std::uint8_t> bytes) const;
    void observe(const HandshakeFailure& failure);
    void observe_unauthenticated_hello(const DecodedFrame& frame);
    [[nodiscard]] Reply answer_hello(const DecodedFrame& frame, const HandshakeParams& params, std::uint64_t now);
    Peer& add_candidate(const DecodedFrame& frame, const HandshakeParams& params);
    Peer* candidate(std::uint64_t session);
    [[nodiscard]] Reply accepting_reply(const Peer& to, bool hello_too) const;
    void adopt(Peer& candidate, std::uint64_t now);
    [[nodiscard]] Reply refuse(const HandshakeFailure& failure, const MacAddress& reply_to, std::uint64_t echo_session);
    [[nodiscard]] bool read_hello_ack(const DecodedFrame& frame, HelloAck& out);
    void on_refusing_ack(const DecodedFrame& frame, const HelloAck& ack, bool authentic);
    [[nodiscard]] bool verify_keyed(const DecodedFrame& frame, const crypto::Key& key);

    TransportStats& stats_;
    TransportConfig config_{};
    LinkSecret secret_{};
    crypto::Key handshake_key_{};
    HandshakeParams local_params_{};
    State state_ = State::idle;
    bool quiet_to_newcomers_ = false;
    Peer peer_{};                         // used: the proven peer of an established link
    Peer candidates_[kCandidates]{};
    std::size_t next_candidate_ = 0;      // the slot a new candidate takes (oldest first)
    std::uint64_t confirmed_session_ = 0;  // a verified accepting HELLO_ACK came from this session
    HandshakeFailure refusal_{};
    HandshakeFailure observation_{};
    bool has_observation_ = false;
    std::uint64_t observations_ = 0;
    HandshakeFailure pending_{};  // an unauthenticated reason seen pending_repeats_ times in a row
    unsigned pending_repeats_ = 0;
    bool have_peer_mac_ = false;
    MacAddress peer_mac_{};
    std::uint16_t link_mtu_ = kStandardMtu;
    std::uint64_t next_hello_ns_ = 0;
    ReplayWindow replay_{};
    std::uint64_t last_heard_ns_ = 0;
};

}  // namespace tandem::link
