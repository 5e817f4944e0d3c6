// The guest's network on this machine: its virtio-net card (GuestMachine::net()) and
// the client NIC behind it. Frames for the guest's MAC (and broadcasts and multicasts) that
// arrive on the client NIC go into the guest's receive queue; the guest's frames go out through
// the sender — the client NIC directly when standalone, the output-commit buffer when
// checkpointing (the frames of an epoch leave only once the backup holds it).
#pragma once

#include "hypervisor/devices/virtio/virtio_net.hpp"
#include "hypervisor/net/mac_address.hpp"
#include "hypervisor/vm/tick_listener.hpp"
#include "nic-drivers/nic.hpp"

namespace tandem::sessions {

// Sends guest frames on the client NIC.
class ClientNicSender final : public virtio::NetBackend {
public:
    explicit ClientNicSender(nic::Nic& nic) : nic_(nic) {}
    bool transmit(std::span<const std::uint8_t> frame) override {
        nic::Frame f = frame;
        return nic_.transmit({&f, 1}) == 1;
    }

private:
    nic::Nic& nic_;
};

// Frames on the client network that are tandem's own business, not the guest's (the pair's
// split-brain probes): offered first, consumed when handle() returns true.
class ControlFrameHandler {
public:
    virtual bool handle(nic::Frame frame) = 0;

protected:
    ~ControlFrameHandler() = default;
};

// Lockstep (issue 13): takes the guest's client frames instead of the card, to forward them to
// the backup before the guest gets them (and deliver them itself).
class GuestInputTap {
public:
    virtual void guest_input(std::span<const std::uint8_t> frame) = 0;

protected:
    ~GuestInputTap() = default;
};

class GuestNetwork final : public TickListener, public nic::FrameSink {
public:
    GuestNetwork(nic::Nic& client, virtio::VirtioMmioNet& device, const MacAddress& guest_mac)
        : client_(client), device_(device), mac_(guest_mac) {}

    // Every timer tick: receive for the guest, and retry transmissions the sender refused.
    void on_tick() override;
    void frame(nic::Frame f) override;
    std::uint64_t frames_for_other_macs() const { return other_; }
    void set_control_handler(ControlFrameHandler* handler) { control_ = handler; }
    void set_input_tap(GuestInputTap* tap) { tap_ = tap; }
    // A lockstep backup's guest gets its input from the link, not from this NIC (whose frames are
    // then the split-brain guard's): false stops reading it here.
    void set_receiving(bool receiving) { receiving_ = receiving; }

private:
    nic::Nic& client_;
    virtio::VirtioMmioNet& device_;
    MacAddress mac_;
    ControlFrameHandler* control_ = nullptr;
    GuestInputTap* tap_ = nullptr;
    bool receiving_ = true;
    std::uint64_t other_ = 0;
};

}  // namespace tandem::sessions
