// Transport::report(): the `link` shell command's lines and the end of a link self-test.
#include "replication/link/link_time.hpp"
#include "replication/link/transport.hpp"

namespace tandem::link {

const char* transport_state_name(Transport::State s) {
    switch (s) {
    case Transport::State::idle: return "idle";
    case Transport::State::connecting: return "connecting";
    case Transport::State::established: return "established";
    case Transport::State::refused: return "refused";
    }
    return "unknown";
}

void Transport::report(Writer& w) const {
    const TransportConfig& config = session_.config();
    println(w, "link: {} as {}, session {}, peer session {}, MTU {}, window {}", transport_state_name(state()),
            role_name(config.role), hex_fixed(config.session_id), hex_fixed(peer_session()), link_mtu(), config.window);
    if (session_.insecure()) {
        println(w, "link: INSECURE (insecure_link=1): frames are checksummed, not encrypted or authenticated");
    } else {
        println(w, "link: ChaCha20-Poly1305, key id {}", hex_fixed(session_.key_id()));
    }
    if (const HandshakeFailure* refused = refusal()) {
        print_handshake_failure(w, *refused);
        w.write("\n");
    }
    if (const HandshakeFailure* seen = observation()) {
        print_handshake_failure(w, *seen);
        w.write("\n");
    }
    const TransportStats& s = stats_;
    println(w, "link: frames sent {} received {}; messages sent {} delivered {} in flight {}", s.frames_sent,
            s.frames_received, s.messages_sent, s.messages_delivered, in_flight());
    println(w, "link: retransmitted {} (fast {}, timeouts {}, probes {}, spurious {}), window halvings {}, duplicates {}, "
            "acks {}, nacks {}, heartbeats {}", s.retransmissions, s.fast_retransmissions, s.timeouts, s.probes,
            s.spurious_retransmissions, s.recoveries, s.duplicates, s.acks_sent, s.nacks_sent, s.heartbeats_sent);
    const RttEstimator& rtt = congestion_.rtt();
    println(w, "link: rtt {} us (variation {} us, min {} us), retransmission timeout {} us; congestion window {} "
            "(threshold {}, {}), {} queued", rtt.srtt_ns() / 1000, rtt.rttvar_ns() / 1000, rtt.min_rtt_ns() / 1000,
            rtt.rto_ns() / 1000, cwnd(), ssthresh(), rtt.queueing() ? "queue standing" : "no queue", queued());
    println(w, "link: rejected: bad tag {}, replay {}, malformed {}, wrong session {}, wrong source {}; ignored {}; "
            "unauthenticated handshake frames {}; peer restarts {}",
            s.rejected_bad_tag, s.rejected_replay, s.rejected_malformed, s.rejected_session, s.rejected_source,
            s.ignored, s.handshake_observations, s.peer_restarts);
    if (state() != State::idle) {
        const std::uint64_t t = now();
        if (peer_silent()) {
            println(w, "link: peer silent since {} ms (for {} ms)", last_heard_ns() / 1'000'000,
                    elapsed(t, last_heard_ns()) / 1'000'000);
        } else {
            println(w, "link: peer last heard {} us ago", elapsed(t, last_heard_ns()) / 1000);
        }
    }
}

}  // namespace tandem::link
