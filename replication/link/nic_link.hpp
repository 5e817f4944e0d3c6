// The replication link over one NIC (DESIGN §4, §7): the transport's frames go out through the
// NIC's transmit ring, and frames the NIC received are fed to the transport. Polled: whoever
// owns the loop calls receive() often (the primary at every tick, the backup in its loop).
#pragma once

#include "nic-drivers/nic.hpp"
#include "replication/link/link_interfaces.hpp"
#include "replication/link/transport.hpp"
#include "replication/link/udp_envelope.hpp"

namespace tandem::link {

class NicChannel final : public FrameChannel {
public:
    // With an envelope, the frames go out as UDP/IPv4 datagrams (udp_envelope.hpp).
    explicit NicChannel(nic::Nic& nic, UdpEnvelope* envelope = nullptr) : nic_(nic), envelope_(envelope) {}
    Status transmit(std::span<const std::uint8_t> frame) override {
        if (envelope_ != nullptr) return envelope_->transmit(nic_, frame);
        nic::Frame f = frame;
        if (nic_.transmit({&f, 1}) == 1) return success();
        return Error::of("link: the NIC's transmit ring is full");
    }

private:
    nic::Nic& nic_;
    UdpEnvelope* envelope_;
};

// Hands what the link NIC received to the transport, at most `budget` frames a call (through
// the envelope, which also asks ARP for its next hop, when the link runs over UDP/IPv4).
class TransportFeed final : public nic::FrameSink {
public:
    TransportFeed(nic::Nic& nic, Transport& transport, UdpEnvelope* envelope = nullptr)
        : nic_(nic), transport_(transport), envelope_(envelope) {}
    void frame(nic::Frame f) override {
        if (envelope_ != nullptr) {
            envelope_->receive(nic_, f, transport_);
        } else {
            transport_.on_frame(f);
        }
    }
    void receive(std::size_t budget = 64) {
        nic_.receive(*this, budget);
        if (envelope_ != nullptr) envelope_->poll(nic_);
    }

private:
    nic::Nic& nic_;
    Transport& transport_;
    UdpEnvelope* envelope_;
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
