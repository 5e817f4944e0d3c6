// The split-brain guard's two ends on the client network (DESIGN §5). The backup, before taking
// over from a primary silent on the link, asks for it on the client network with an
// authenticated probe (replication/link/client_probe.hpp); the primary's hypervisor answers at
// once, whatever its guest and output buffer are doing. An answer means the link failed, not the
// primary: the backup does not take over.
#pragma once

#include <cstdint>

#include "hypervisor/console/writer.hpp"
#include "nic-drivers/nic.hpp"
#include "replication/engine/backup_replicator.hpp"
#include "replication/link/client_probe.hpp"
#include "replication/link/link_keys.hpp"
#include "replication/sessions/guest_network.hpp"

namespace tandem::sessions {

// Says once per kind, with a count, what was wrong with frames refused on the client network.
class RefusalLog {
public:
    explicit RefusalLog(Writer& out) : out_(out) {}
    void note(const char* problem);
    std::uint64_t count() const { return count_; }

private:
    Writer& out_;
    const char* last_ = nullptr;
    std::uint64_t count_ = 0;
};

// The primary's end: probes are taken off the guest's network and answered on the client NIC.
// A primary whose hand-over notice went unacknowledged asks in turn (send_probe, to broadcast):
// the replies then go to `replies` (pair_handover.cpp).
class ProbeResponder final : public ControlFrameHandler, public engine::ProbeSender {
public:
    ProbeResponder(nic::Nic& nic, const link::LinkSecret& secret, Writer& out)
        : nic_(nic), secret_(secret), out_(out), refusals_(out) {}
    bool handle(nic::Frame f) override;
    void send_probe(const link::Challenge& challenge) override;
    void set_reply_sink(engine::ProbeReplySink* replies) { replies_ = replies; }
    std::uint64_t answered() const { return answered_; }

private:
    nic::Nic& nic_;
    const link::LinkSecret& secret_;
    Writer& out_;
    RefusalLog refusals_;
    engine::ProbeReplySink* replies_ = nullptr;
    std::uint64_t answered_ = 0;
};

// The backup's end: requests go to broadcast on the client NIC; replies are checked and handed
// to the replicator; everything else on the client network is the primary guest's traffic and
// is dropped here.
class ClientProber final : public engine::ProbeSender, public nic::FrameSink {
public:
    ClientProber(nic::Nic& nic, const link::LinkSecret& secret, Writer& out) : nic_(nic), secret_(secret), refusals_(out) {}
    void attach(engine::ProbeReplySink& r) { replicator_ = &r; }
    void send_probe(const link::Challenge& challenge) override;
    void frame(nic::Frame f) override;
    void receive(std::size_t budget = 64) { nic_.receive(*this, budget); }

private:
    nic::Nic& nic_;
    const link::LinkSecret& secret_;
    RefusalLog refusals_;
    engine::ProbeReplySink* replicator_ = nullptr;
};

// A backup without a client network: nothing to ask, so a silent primary is taken as dead (said
// at start-up).
class NoProber final : public engine::ProbeSender {
public:
    void send_probe(const link::Challenge&) override {}
};

}  // namespace tandem::sessions
