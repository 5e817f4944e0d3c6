#include "replication/sessions/split_brain_probe.hpp"

namespace tandem::sessions {

void RefusalLog::note(const char* problem) {
    ++count_;
    if (problem == last_ && count_ > 1) return;
    last_ = problem;
    println(out_, "pair: refused a frame on the client network: {} ({} refused so far)", problem, count_);
}

bool ProbeResponder::handle(nic::Frame f) {
    link::ProbeParse p = link::parse_probe(f, secret_);
    if (!p.is_probe) return false;
    if (!p.valid) {
        refusals_.note(p.problem);
        return true;
    }
    if (p.frame.kind != link::ProbeKind::request) {
        if (replies_ != nullptr) replies_->on_probe_reply(p.frame);
        return true;
    }
    std::uint8_t reply[link::kProbeFrameSize];
    link::build_probe(reply, p.frame.source, nic_.info().mac, link::ProbeKind::reply, p.frame.challenge, secret_);
    nic::Frame out = reply;
    nic_.transmit({&out, 1});
    if (answered_++ % 64 == 0) {
        println(out_, "pair: answered a backup's probe on the client network ({} so far): it cannot hear this "
                      "primary on the link",
                answered_);
    }
    return true;
}

namespace {
void broadcast_probe(nic::Nic& nic, const link::LinkSecret& secret, const link::Challenge& challenge) {
    std::uint8_t frame[link::kProbeFrameSize];
    MacAddress broadcast{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
    link::build_probe(frame, broadcast, nic.info().mac, link::ProbeKind::request, challenge, secret);
    nic::Frame f = frame;
    nic.transmit({&f, 1});
}
}  // namespace

void ProbeResponder::send_probe(const link::Challenge& challenge) { broadcast_probe(nic_, secret_, challenge); }

void ClientProber::send_probe(const link::Challenge& challenge) { broadcast_probe(nic_, secret_, challenge); }

void ClientProber::frame(nic::Frame f) {
    link::ProbeParse p = link::parse_probe(f, secret_);
    if (!p.is_probe) return;
    if (!p.valid) return refusals_.note(p.problem);
    if (p.frame.kind == link::ProbeKind::reply && replicator_ != nullptr) replicator_->on_probe_reply(p.frame);
}

}  // namespace tandem::sessions
