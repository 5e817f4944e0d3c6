#include "replication/sessions/linktest_session.hpp"

namespace tandem::sessions {

void LinktestSession::command_link(void* context, std::string_view, Writer& out) {
    static_cast<LinktestSession*>(context)->transport_->report(out);
}

Status LinktestSession::start() {
    const Config& config = machine_.config();
    if (auto s = machine_.open_nics(true, false); !s) {
        println(out_, "nic: {}", s.error());
        println(out_, "tandem: cannot start: no NIC for the replication link (link_nic=)");
        return s;
    }
    auto secret = machine_.link_secret();
    if (!secret) {
        println(out_, "link: {}", secret.error());
        println(out_, "tandem: cannot start: no usable link key");
        return secret.error();
    }
    nic::Nic& nic = *machine_.link_nic();
    nic::NicInfo info = nic.info();
    channel_.emplace(nic);
    transport_.emplace(*channel_, machine_.clock(), test_);
    feed_.emplace(nic, *transport_);
    test_.attach(*transport_);
    link::TransportConfig tc;
    tc.role = config.role;
    tc.session_id = machine_.random()();
    tc.local_mac = info.mac;
    tc.has_peer_mac = config.has_peer_mac;
    tc.peer_mac = config.peer_mac;
    tc.mtu = info.mtu;
    tc.guest_memory = config.guest_mem;
    if (config.link_version != 0) tc.protocol_version = static_cast<std::uint8_t>(config.link_version);
    if (auto s = transport_->start(tc, *secret); !s) {
        println(out_, "link: {}", s.error());
        return s;
    }
    println(out_, "linktest: {} MiB each way as {} over {} ({}), {}", config.linktest_mib, role_name(config.role),
            info.driver, ColonHex{info.mac.bytes, 6},
            secret->insecure ? "INSECURE (insecure_link=1)" : "authenticated and encrypted");
    link::warn_if_insecure(out_, *secret);
    (void)machine_.shell().add({"link", "the replication link's state and counters", command_link, this});
    last_progress_ = machine_.now();
    return success();
}

Session::Next LinktestSession::poll() {
    feed_->receive();
    transport_->poll();
    test_.pump();
    if (!established_ && transport_->established()) {
        established_ = true;
        started_ = machine_.now();
        println(out_, "linktest: link established with the {} (peer session {}), link MTU {}",
                role_name(transport_->peer_params().role), hex(transport_->peer_session(), 16), transport_->link_mtu());
    }
    if (transport_->refusal() != nullptr && !reported_refusal_) report_refusal();
    if (transport_->observations() != observed_) report_observation();
    if (established_ && test_.done() && !reported_done_) report_done();
    if (established_ && !reported_done_ && machine_.now() - last_progress_ > machine_.tsc_khz() * 2000) report_progress();
    return Next::wait;
}

void LinktestSession::report_refusal() {
    reported_refusal_ = true;
    if (transport_->refusal()->field == link::HandshakeField::key_id) {
        println(out_, "linktest: authentication failure: the peer does not hold this link key");
    }
    println(out_, "linktest: {}", transport_->refusal_error());
    transport_->report(out_);
    println(out_, "tandem: the link was refused; tandem keeps running (console: type 'link')");
}

// A reason seen in a handshake frame that could not be authenticated: the link goes on waiting
// for a peer that holds this key, but the operator learns why nothing connects.
void LinktestSession::report_observation() {
    observed_ = transport_->observations();
    const link::HandshakeFailure* seen = transport_->observation();
    if (seen == nullptr) return;
    if (seen->field == link::HandshakeField::key_id) {
        println(out_, "linktest: authentication failure: the peer does not hold this link key");
    }
    print(out_, "linktest: ");
    link::print_handshake_failure(out_, *seen);
    out_.write("\n");
    println(out_, "tandem: the link cannot connect; tandem keeps running and listening (console: type 'link')");
}

void LinktestSession::report_done() {
    reported_done_ = true;
    std::uint64_t khz = machine_.tsc_khz();
    std::uint64_t ticks = machine_.now() - started_;
    std::uint64_t bytes = test_.bytes_sent() + test_.bytes_received();
    std::uint64_t ms = ticks / (khz == 0 ? 1 : khz);
    std::uint64_t kib_per_s = ms == 0 ? 0 : bytes / 1024 * 1000 / ms;
    test_.report(out_);
    println(out_, "linktest: {} in {} ms: {} KiB/s both directions together", Bytes{bytes}, ms, kib_per_s);
    transport_->report(out_);
    nic::print_counters(out_, machine_.link_nic()->counters());
    println(out_, "linktest: complete; tandem keeps serving the link and the console");
}

void LinktestSession::report_progress() {
    last_progress_ = machine_.now();
    const link::TransportStats& st = transport_->stats();
    println(out_, "linktest: progress: sent {} received {}, {} retransmissions, {} rejected (tag {}, replay {}, malformed {})",
            Bytes{test_.bytes_sent()}, Bytes{test_.bytes_received()}, st.retransmissions,
            st.rejected_bad_tag + st.rejected_replay + st.rejected_malformed, st.rejected_bad_tag, st.rejected_replay,
            st.rejected_malformed);
}

}  // namespace tandem::sessions
