// The guest's network card (DESIGN §6): virtio-net (Virtio 1.1 §5.1) on the virtio-mmio
// transport (§4.2.2, version 2), backed by a NetBackend (the client NIC, through the
// output-commit buffer when checkpointing). Features offered: VIRTIO_F_VERSION_1 and
// VIRTIO_NET_F_MAC only: no offloads, no interrupts needed (the driver may poll; an interrupt
// line is raised through the optional callback). Every register write, queue address, index and
// descriptor the guest supplies is checked (virtqueue.hpp); a guest that breaks the protocol
// gets DEVICE_NEEDS_RESET and a report, never trusted memory accesses. The whole transport and
// queue state is saved and restored with checkpoints.
#pragma once

#include <cstdint>
#include <span>

#include "hypervisor/console/writer.hpp"
#include "hypervisor/devices/device_state.hpp"
#include "hypervisor/devices/mmio_bus.hpp"
#include "hypervisor/devices/virtio/virtqueue.hpp"
#include "hypervisor/util/result.hpp"

namespace tandem::virtio {

// Where the guest's frames go: false when the backend cannot take one now (the frame stays in
// the transmit queue and is offered again).
class NetBackend {
public:
    virtual bool transmit(std::span<const std::uint8_t> frame) = 0;

protected:
    ~NetBackend() = default;
};

struct NetStats {
    std::uint64_t tx_frames = 0, rx_frames = 0, rx_dropped_no_buffer = 0, rx_dropped_too_big = 0;
    std::uint64_t protocol_errors = 0;
};

class VirtioMmioNet final : public MmioDevice, public StatefulDevice, public GuestMemoryUser {
public:
    static constexpr std::uint64_t kSize = 0x200;
    static constexpr std::uint16_t kQueueSizeMax = 256;
    static constexpr std::size_t kHeaderSize = 12;     // virtio_net_hdr with num_buffers (§5.1.6)
    static constexpr std::size_t kMaxFrame = 1514;     // Ethernet without FCS, no jumbo frames

    VirtioMmioNet(GuestMemory& memory, NetBackend& backend, const std::uint8_t (&mac)[6], Writer& log);
    void set_memory(GuestMemory& memory) override;

    std::uint64_t mmio_read(std::uint64_t offset, unsigned size) override;
    void mmio_write(std::uint64_t offset, unsigned size, std::uint64_t value) override;

    // Takes frames from the guest's transmit queue while the backend accepts them.
    void process_transmit();
    // Puts a received frame into the guest's next receive buffer (dropped, and counted, if the
    // guest has none or the frame does not fit). True if delivered.
    bool deliver(std::span<const std::uint8_t> frame);
    bool driver_ready() const { return (status_ & kStatusDriverOk) != 0 && !(status_ & kStatusNeedsReset); }
    const NetStats& stats() const { return stats_; }

    std::uint16_t state_id() const override { return kDeviceIdVirtioNet0; }
    std::uint16_t state_version() const override { return 1; }
    const char* state_name() const override { return "virtio-net0"; }
    void save_state(ByteWriter& out) const override;
    Status restore_state(std::uint16_t version, std::span<const std::uint8_t> in) override;

    static constexpr std::uint32_t kStatusDriverOk = 4, kStatusNeedsReset = 64;
    static constexpr std::uint16_t kDeviceIdVirtioNet0 = 2;

private:
    void reset();
    void fail(const char* what, const Error& e);
    Virtqueue* selected();

    GuestMemory* memory_;
    NetBackend& backend_;
    Writer& log_;
    std::uint8_t mac_[6];
    Virtqueue queues_[2];  // 0: receive, 1: transmit
    std::uint32_t status_ = 0;
    std::uint32_t device_features_sel_ = 0, driver_features_sel_ = 0;
    std::uint64_t driver_features_ = 0;
    std::uint32_t queue_sel_ = 0;
    std::uint32_t interrupt_status_ = 0;
    NetStats stats_{};
    std::uint8_t frame_[kHeaderSize + kMaxFrame]{};
};

}  // namespace tandem::virtio
