// The narrow NIC interface (DESIGN §7): everything replication/ and the guest's network backend
// know about a network card. No registers, no descriptors, no interrupts: polled operation with
// bounded work per call, so a caller's loop (the epoch stream, heartbeats) keeps its timing.
// BitVisor's drivers have the same shape (info, send batch, receive callback, poll).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "hypervisor/net/mac_address.hpp"
#include "hypervisor/console/writer.hpp"
#include "hypervisor/util/result.hpp"
#include "nic-drivers/pci/address.hpp"

namespace tandem::nic {

// An Ethernet frame from the destination address to the end of the payload; the NIC adds and
// strips the FCS.
using Frame = std::span<const std::uint8_t>;

inline constexpr std::size_t kEthernetHeader = 14;

// What a caller may choose when a NIC is started.
struct NicOptions {
    std::uint16_t rx_descriptors = 256;  // multiple of 8, 8-4096
    std::uint16_t tx_descriptors = 256;
    bool promiscuous = false;  // accept every unicast and multicast frame (client NIC: the guest has its own MAC)
};

struct NicInfo {
    MacAddress mac{};
    std::uint16_t mtu = 0;        // largest payload: 1500 without jumbo frames
    std::uint16_t max_frame = 0;  // largest frame transmit() accepts and receive() delivers, FCS excluded
    std::uint16_t rx_ring = 0;    // receive descriptors (frames the NIC can hold before poll)
    std::uint16_t tx_ring = 0;    // transmit descriptors (one fewer can be in flight)
    const char* driver = "";      // "e1000"
    const char* model = "";       // "82540EM"
    bool on_pci = false;
    pci::Address pci{};
};

struct NicCounters {
    std::uint64_t tx_frames = 0;  // queued to the device
    std::uint64_t tx_bytes = 0;
    std::uint64_t tx_dropped = 0;  // refused by transmit(): shorter than a header or over max_frame
    std::uint64_t tx_errors = 0;   // the device reported a failed transmission
    std::uint64_t rx_frames = 0;   // delivered to a sink
    std::uint64_t rx_bytes = 0;
    std::uint64_t rx_dropped = 0;  // well-formed but undeliverable: spanning descriptors, too long
    std::uint64_t rx_errors = 0;   // the device flagged an error (CRC, symbol, ...) or a bad length
    std::uint64_t rx_missed = 0;   // the device had no free descriptor and lost the frame
};

// Where received frames go. `frame` is valid only for the duration of the call (it points into
// the driver's DMA buffer, which goes back to the device afterwards): copy what you keep.
class FrameSink {
public:
    virtual void frame(Frame bytes) = 0;

protected:
    ~FrameSink() = default;
};

class Nic {
public:
    virtual NicInfo info() const = 0;
    virtual bool link_up() = 0;

    // Copies frames from the front of `frames` into the transmit ring, with one doorbell for the
    // whole batch, and returns how many it took. A frame that is malformed (shorter than an
    // Ethernet header, longer than max_frame) is taken and dropped (counted in tx_dropped).
    // Fewer than frames.size() means the ring is full: offer the rest again later. Never blocks.
    virtual std::size_t transmit(std::span<const Frame> frames) = 0;

    // Delivers up to `budget` received frames to `sink`, oldest first, and returns how many it
    // delivered. Looks at no more than `budget` descriptors (dropped frames use budget too).
    virtual std::size_t receive(FrameSink& sink, std::size_t budget) = 0;

    // Reclaims completed transmissions and returns how many frames are still in flight.
    virtual std::size_t tx_pending() = 0;

    virtual NicCounters counters() = 0;

    // success() while the device behaves; the first inconsistency found (e.g. a ring head out of
    // range) otherwise. A failed NIC transmits and receives nothing until it is restarted.
    virtual Status health() const = 0;

protected:
    ~Nic() = default;
};

// receive() into a callable: receive_with(nic, budget, [&](Frame f) { ... }).
template <class F>
std::size_t receive_with(Nic& nic, std::size_t budget, F&& on_frame) {
    struct Adapter final : FrameSink {
        explicit Adapter(F& f) : f_(f) {}
        void frame(Frame bytes) override { f_(bytes); }
        F& f_;
    } adapter{on_frame};
    return nic.receive(adapter, budget);
}

// receive() into caller buffers: one frame per slot (slots should hold info().max_frame bytes).
struct RxSlot {
    std::span<std::uint8_t> buffer;
    std::size_t length = 0;  // set for each slot filled
};
struct RxCopyResult {
    std::size_t stored = 0;    // slots [0, stored) were filled
    std::size_t too_long = 0;  // frames delivered but larger than their slot, not stored
};
RxCopyResult receive_into(Nic& nic, std::span<RxSlot> slots);

// "nic: e1000 82540EM at 00:03.0 mac 52:54:00:12:34:56 mtu 1500 link up rx 256 tx 256"
void print_info(Writer& w, const NicInfo& info, bool link_up);
// "nic: tx 10 frames 1.4 KiB (0 dropped, 0 errors) rx ... "
void print_counters(Writer& w, const NicCounters& c);

}  // namespace tandem::nic
