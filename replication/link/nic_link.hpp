// The replication link over one NIC (DESIGN §4, §7): the transport's frames go out through the
// NIC's transmit ring, and frames the NIC received are fed to the transport. Polled: whoever
// owns the loop calls receive() often (the primary at every tick, the backup in its loop).
#pragma once

#include "nic-drivers/nic.hpp"
#include "replication/link/link_interfaces.hpp"
#include "replication/link/transport.hpp"

namespace tandem::link {

class NicChannel final : public FrameChannel {
public:
    explicit NicChannel(nic::Nic& nic) : nic_(nic) {}
    Status transmit(std::span<const std::uint8_t> frame) override {
        nic::Frame f = frame;
        if (nic_.transmit({&f, 1}) == 1) return success();
        return Error::of("link: the NIC's transmit ring is full");
    }

private:
    nic::Nic& nic_;
};

// Hands what the link NIC received to the transport, at most `budget` frames a call.
class TransportFeed final : public nic::FrameSink {
public:
    TransportFeed(nic::Nic& nic, Transport& transport) : nic_(nic), transport_(transport) {}
    void frame(nic::Frame f) override { transport_.on_frame(f); }
    void receive(std::size_t budget = 64) { nic_.receive(*this, budget); }

private:
    nic::Nic& nic_;
    Transport& transport_;
};

// Forwards the transport's messages to whichever side this machine plays now (the backup's
// replicator, then, after a takeover, the primary's).
class MessageSwitch final : public MessageSink {
public:
    void on_message(const Message& m) override {
        if (target != nullptr) target->on_message(m);
    }
    MessageSink* target = nullptr;
};

}  // namespace tandem::link
