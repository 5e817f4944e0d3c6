// The guest's network card (DESIGN §6): virtio-net (Virtio 1.1 §5.1) on the virtio-mmio
// transport (§4.2.2, version 2), backed by a NetBackend (the client NIC, through the
// output-commit buffer when checkpointing). Written for an unmodified Linux 6.1 guest
// (drivers/virtio/virtio_mmio.c, virtio_ring.c, drivers/net/virtio_net.c) as well as tandem's
// own polling test guest.
//
// Features offered (§6, §5.1.3): VIRTIO_F_VERSION_1 (required by mmio version 2),
// VIRTIO_NET_F_MAC, VIRTIO_NET_F_STATUS (link state in config space, changes signalled by a
// configuration-change interrupt) and VIRTIO_F_RING_INDIRECT_DESC (Linux then puts every
// multi-segment chain in one indirect table, as it does on QEMU). Not offered: offloads and
// MRG_RXBUF (Linux then posts "small" receive buffers: one device-writable descriptor of
// 12 + 1518 bytes), a control queue, multiqueue, VIRTIO_F_RING_RESET (Linux 6.1's virtio_mmio
// cannot reset a single queue anyway), and VIRTIO_F_EVENT_IDX: with it the device would have to
// publish avail_event in the used ring or Linux stops notifying transmissions, and keep more
// state through checkpoints, for fewer interrupts only; without it Linux suppresses interrupts
// through VIRTQ_AVAIL_F_NO_INTERRUPT, which is honoured.
//
// Interrupts (§4.2.2: InterruptStatus bit 0 used buffer, bit 1 configuration change, cleared
// by InterruptACK): the device drives its IrqLines pin at the logical level
// "InterruptStatus != 0", i.e. level-triggered, active high, as QEMU's virtio-mmio does. Linux
// requests the line IRQF_SHARED and its handler reads InterruptStatus, acknowledges exactly the
// bits it read, then scans the rings, so the line drops before its EOI and a level-triggered
// IOAPIC pin redelivers if new work arrived meanwhile. The ACPI _CRS should therefore say
// Interrupt (ResourceConsumer, Level, ActiveHigh, Exclusive or Shared), preferably on a GSI of
// 16 or more (no ISA default or interrupt source override applies there). An edge-programmed pin also works: it sees a rising edge
// each time InterruptStatus leaves zero, and Linux acknowledges before scanning.
//
// Every register write, queue address, index and descriptor the guest supplies is checked
// (virtqueue.hpp); a guest that breaks the protocol gets DEVICE_NEEDS_RESET (plus a
// configuration-change interrupt once DRIVER_OK, §2.1.2) and a report, never trusted memory
// accesses. The whole transport and queue state is saved and restored with checkpoints.
#pragma once

#include <cstdint>
#include <span>

#include "hypervisor/console/writer.hpp"
#include "hypervisor/devices/device_state.hpp"
#include "hypervisor/devices/interrupt_line.hpp"
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
    std::uint64_t tx_dropped_too_big = 0;  // frames over kMaxFrame: dropped, the buffer returned
};

class VirtioMmioNet final : public MmioDevice, public StatefulDevice, public GuestMemoryUser {
public:
    static constexpr std::uint64_t kSize = 0x200;
    static constexpr std::uint16_t kQueueSizeMax = 256;
    static constexpr std::size_t kHeaderSize = 12;     // virtio_net_hdr with num_buffers (§5.1.6)
    // Ethernet without FCS with one VLAN tag, no jumbo frames: Linux's GOOD_PACKET_LEN, the
    // frame room of its small receive buffers (and the e1000's maximum).
    static constexpr std::size_t kMaxFrame = 1518;

    VirtioMmioNet(GuestMemory& memory, NetBackend& backend, const std::uint8_t (&mac)[6], Writer& log);
    void set_memory(GuestMemory& memory) override;
    // Wires the interrupt to `pin` of `lines` (nullptr: no interrupt, the driver polls) and
    // drives it to the current level at once. Wiring, not state: it is not checkpointed.
    void set_interrupt_line(IrqLines* lines, unsigned pin);
    // The link state the guest sees in config space (VIRTIO_NET_S_LINK_UP, up at power-on). A
    // change bumps ConfigGeneration and, once DRIVER_OK, raises a configuration-change interrupt.
    void set_link_up(bool up);
    bool link_up() const { return link_up_; }
    std::uint32_t interrupt_status() const { return interrupt_status_; }

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
    // Version 2 adds the configuration generation and the link state; version 1 is accepted
    // (generation 0, link up).
    std::uint16_t state_version() const override { return 2; }
    const char* state_name() const override { return "virtio-net0"; }
    void save_state(ByteWriter& out) const override;
    Status restore_state(std::uint16_t version, std::span<const std::uint8_t> in) override;

    static constexpr std::uint32_t kStatusDriverOk = 4, kStatusNeedsReset = 64;
    static constexpr std::uint16_t kDeviceIdVirtioNet0 = 2;

private:
    void reset();
    void fail(const char* what, const Error& e);
    Virtqueue* selected();
    bool indirect_negotiated() const;
    // Sets InterruptStatus bits and drives the line; a used-buffer interrupt for `q` is skipped
    // if its driver set VIRTQ_AVAIL_F_NO_INTERRUPT (§2.6.7.2).
    void used_buffer_interrupt(const Virtqueue& q);
    void raise(std::uint32_t bits);
    void update_line(bool force = false);

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
    std::uint32_t config_generation_ = 0;
    bool link_up_ = true;
    IrqLines* lines_ = nullptr;
    unsigned pin_ = 0;
    bool line_level_ = false;  // what the pin was last driven to
    NetStats stats_{};
    std::uint8_t frame_[kHeaderSize + kMaxFrame]{};
};

}  // namespace tandem::virtio
