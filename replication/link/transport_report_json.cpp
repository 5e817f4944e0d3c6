// Transport::report_json(): `link --json`, the same state and counters as report() in one line
// of JSON (docs/console-schema.json, "link").
#include "hypervisor/console/json_writer.hpp"
#include "replication/link/link_time.hpp"
#include "replication/link/transport.hpp"
#include "replication/link/udp_envelope.hpp"

namespace tandem::link {

void Transport::report_json(Writer& w, const UdpEnvelope* envelope) const {
    const TransportConfig& config = session_.config();
    const TransportStats& s = stats_;
    const RttEstimator& rtt = congestion_.rtt();
    JsonWriter json(w);
    json.begin_object();
    json.field("schema", kConsoleSchema);
    json.field("kind", "link");
    json.field("state", transport_state_name(state()));
    json.field("role", role_name(config.role));
    json.field("authenticated", !session_.insecure());
    json.field("mtu", std::uint64_t{link_mtu()});
    json.field("window", std::uint64_t{config.window});
    json.field("frames_sent", s.frames_sent);
    json.field("frames_received", s.frames_received);
    json.field("messages_sent", s.messages_sent);
    json.field("messages_delivered", s.messages_delivered);
    json.field("in_flight", std::uint64_t{in_flight()});
    json.field("retransmissions", s.retransmissions);
    json.field("fast_retransmissions", s.fast_retransmissions);
    json.field("timeouts", s.timeouts);
    json.field("probes", s.probes);
    json.field("duplicates", s.duplicates);
    json.field("acks_sent", s.acks_sent);
    json.field("nacks_sent", s.nacks_sent);
    json.field("heartbeats_sent", s.heartbeats_sent);
    json.field("rtt_us", rtt.srtt_ns() / 1000);
    json.field("rtt_variation_us", rtt.rttvar_ns() / 1000);
    json.field("rto_us", rtt.rto_ns() / 1000);
    json.field("congestion_window", std::uint64_t{cwnd()});
    json.object_field("rejected");
    json.field("bad_tag", s.rejected_bad_tag);
    json.field("replay", s.rejected_replay);
    json.field("malformed", s.rejected_malformed);
    json.field("session", s.rejected_session);
    json.field("source", s.rejected_source);
    json.end_object();
    json.field("ignored", s.ignored);
    json.field("peer_restarts", s.peer_restarts);
    bool heard = state() != State::idle && last_heard_ns() != 0;
    json.maybe_field("peer_last_heard_us", heard, heard ? elapsed(now(), last_heard_ns()) / 1000 : 0);
    if (envelope) envelope->report_json(json);
    json.end_object();
    json.end_line();
}

}  // namespace tandem::link
