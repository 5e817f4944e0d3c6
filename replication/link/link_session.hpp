// The replication link's session (DESIGN.md §4): the HELLO handshake, the peer it accepts, the
// traffic keys of the two sessions, and the admission of every keyed frame.
//
//  - HELLO / HELLO_ACK (hello.hpp) agree on version, role, guest memory, page size, features,
//    key and MTU; any mismatch refuses the link on both sides with a clear reason. Each side
//    repeats HELLO while connecting and answers every HELLO; it is established once it accepted
//    the peer's HELLO and the peer proved the key (an accepting HELLO_ACK under the new traffic
//    key, or any keyed frame of the peer's session).
//  - Nothing that is not authenticated with the key (HELLO, a refusing HELLO_ACK, a version
//    notice with only the public checksum) changes the peer or the keys of an established link:
//    a new HELLO then only counts as a restarted peer; the owner decides what that means.
//  - Keyed frames: from the peer's current session, encrypted unless insecure_link, the tag
//    verified, and fresh (anti-replay window of 256 frames, replay_window.hpp: every frame has
//    a fresh sequence number, which is its nonce). Only then is the peer "heard".
//  - The peer is "silent" when nothing authenticated arrived for silence_timeout.
//
// This unit sends nothing itself: it says when a HELLO is due and which HELLO_ACK answers a
// frame (a Reply), and the transport seals and sends them.
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

    // A HELLO_ACK to send: accepting ones go under the traffic key, refusing ones checksummed.
    struct Reply {
        bool send = false;
        HelloAck ack{};
        MacAddress to{};
    };

    explicit LinkSession(TransportStats& stats) : stats_(stats) {}
    LinkSession(const LinkSession&) = delete;
    LinkSession& operator=(const LinkSession&) = delete;

    // Forgets everything and starts connecting at `now` with `config` (check_transport_config()
    // accepted it); the caller sends the first HELLO.
    void start(const TransportConfig& config, const LinkSecret& secret, std::uint64_t now);
    // While connecting: a HELLO is due now (the next one is then hello_interval later).
    [[nodiscard]] bool hello_due(std::uint64_t now);

    // The frames of the handshake, from the peer's MAC address and to us (the caller checked).
    [[nodiscard]] Reply on_version_mismatch(const DecodedFrame& frame, std::span<const std::uint8_t> bytes,
                                            std::uint8_t version);
    [[nodiscard]] Reply on_hello(const DecodedFrame& frame, std::uint64_t now);
    void on_hello_ack(const DecodedFrame& frame, std::uint64_t now);
    // Any other frame: true when it is authentic and fresh from the peer's current session; it
    // is then recorded as seen, the peer is heard, and a connecting side becomes established.
    [[nodiscard]] bool admit(const DecodedFrame& frame, std::uint64_t now);

    State state() const { return state_; }
    bool established() const { return state_ == State::established; }
    // Set when state() is refused.
    const HandshakeFailure* refusal() const { return state_ == State::refused ? &refusal_ : nullptr; }
    const HandshakeFailure& last_failure() const { return refusal_; }
    // Nothing authenticated from the peer for silence_timeout (since start, before the first).
    bool peer_silent(std::uint64_t now) const;
    std::uint64_t last_heard_ns() const { return last_heard_ns_; }

    const TransportConfig& config() const { return config_; }
    bool insecure() const { return secret_.insecure; }
    std::uint64_t key_id() const { return secret_.key_id; }
    const HandshakeParams& local_params() const { return local_params_; }
    const HandshakeParams& peer_params() const { return peer_params_; }
    std::uint64_t peer_session() const { return peer_session_; }
    std::uint16_t link_mtu() const { return link_mtu_; }
    // Where frames without an explicit destination go: the peer, or broadcast until it is known.
    MacAddress destination() const { return have_peer_mac_ ? peer_mac_ : kBroadcastMac; }
    bool knows_peer_mac() const { return have_peer_mac_; }
    const MacAddress& peer_mac() const { return peer_mac_; }
    // The key a frame goes out under: none for checksummed frames or on an insecure link.
    const crypto::Key* tx_key(bool checksum_only) const { return checksum_only || insecure() ? nullptr : &tx_key_; }
    const crypto::Key& rx_key() const { return rx_key_; }

private:
    void reset();
    [[nodiscard]] Reply accept_peer(const DecodedFrame& frame, const HandshakeParams& params, std::uint64_t now);
    void become_established(std::uint64_t now);
    [[nodiscard]] Reply refuse(const HandshakeFailure& failure, const MacAddress& reply_to, std::uint64_t echo_session);
    [[nodiscard]] bool read_hello_ack(const DecodedFrame& frame, HelloAck& out);

    TransportStats& stats_;
    TransportConfig config_{};
    LinkSecret secret_{};
    HandshakeParams local_params_{};
    State state_ = State::idle;
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
    ReplayWindow replay_{};
    std::uint64_t last_heard_ns_ = 0;
};

}  // namespace tandem::link
