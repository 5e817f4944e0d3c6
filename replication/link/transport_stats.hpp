// The replication transport's counters (transport.hpp): one struct the units of the transport
// (link_session, send_window, congestion_control) count into, reported by `link` and `stats`.
#pragma once

#include <cstdint>

#include "replication/link/frame.hpp"

namespace tandem::link {

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
    std::uint64_t keepalives = 0;  // heartbeats sent from inside long operations
    std::uint64_t peer_restarts = 0;  // a new session of the peer proved the key and replaced the old
    std::uint64_t handshake_observations = 0;  // handshake frames we could not authenticate
    std::uint64_t rejects[kRejectReasonCount] = {};   // decode_frame() refusals by reason
};

}  // namespace tandem::link
