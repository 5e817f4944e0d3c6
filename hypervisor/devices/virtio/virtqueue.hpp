// A split virtqueue (Virtio 1.1 §2.6) in guest memory, from the device's side: take the next
// descriptor chain the driver made available, hand back used buffers. The driver is the guest:
// every ring index, descriptor index, chain length, address and length is checked against the
// queue size and guest RAM before use, and a malformed queue puts the device in an error state
// (reported once) instead of being trusted. Indirect descriptors (§2.6.5.3) are followed when the
// device negotiated VIRTIO_F_RING_INDIRECT_DESC: only as a chain's head (Linux's virtio_ring
// and QEMU use them only so), never nested, at most Chain::kMaxSegments entries per table.
#pragma once

#include <cstddef>
#include <cstdint>

#include "hypervisor/util/result.hpp"
#include "hypervisor/vm/guest_memory.hpp"

namespace tandem::virtio {

inline constexpr std::uint16_t kDescNext = 1, kDescWrite = 2, kDescIndirect = 4;
inline constexpr std::uint16_t kMaxQueueSize = 256;
inline constexpr std::uint16_t kAvailNoInterrupt = 1;  // VIRTQ_AVAIL_F_NO_INTERRUPT (§2.6.7)

struct Segment {
    std::uint64_t gpa;
    std::uint32_t length;
    bool device_writable;
};

struct Chain {
    // Linux 6.1 posts at most MAX_SKB_FRAGS + 2 = 19 segments per chain (virtio_net's tx with
    // scatter-gather, its "big packets" rx), directly or in one indirect table; 64 is ample.
    static constexpr std::size_t kMaxSegments = 64;
    std::uint16_t head = 0;
    Segment segments[kMaxSegments]{};
    std::size_t count = 0;
    std::uint64_t readable_bytes = 0;
    std::uint64_t writable_bytes = 0;
};

// Queue configuration as the driver wrote it through the transport, plus the device's progress.
struct QueueState {
    std::uint16_t size = 0;     // QueueNum
    bool ready = false;
    std::uint64_t desc = 0, avail = 0, used = 0;
    std::uint16_t last_avail = 0;  // next available-ring entry the device will take
    std::uint16_t used_idx = 0;    // next used-ring entry the device will fill
};

class Virtqueue {
public:
    explicit Virtqueue(GuestMemory& memory) : memory_(&memory) {}
    void set_memory(GuestMemory& memory) { memory_ = &memory; }

    QueueState& state() { return state_; }
    const QueueState& state() const { return state_; }
    // Checks the configuration the driver gave (size a power of two within limits, rings inside
    // guest RAM and aligned as §2.6 requires) before the queue is used.
    Status validate() const;
    // True if the driver has made a buffer available that the device has not taken.
    Result<bool> has_available() const;
    // Takes the next available chain. Fails on any malformed descriptor; an indirect descriptor
    // is malformed unless `indirect` (VIRTIO_F_RING_INDIRECT_DESC negotiated).
    Result<Chain> pop(Chain& out, bool indirect = false);
    // The driver's VIRTQ_AVAIL_F_NO_INTERRUPT hint (§2.6.7): true if it asks for no interrupt
    // (false if the ring cannot be read: then the device interrupts, the safe choice).
    bool interrupt_suppressed() const;
    // Returns a chain to the driver with `written` bytes written into its writable segments.
    Status push_used(std::uint16_t head, std::uint32_t written);

private:
    GuestMemory* memory_;
    QueueState state_{};
};

// Copies between a chain's segments and a flat buffer: `gather` reads the readable segments
// (skipping `skip` bytes first), `scatter` writes the writable ones. Both stop at the buffer end.
Result<std::size_t> gather(GuestMemory& memory, const Chain& chain, std::size_t skip, std::span<std::uint8_t> out);
Result<std::size_t> scatter(GuestMemory& memory, const Chain& chain, std::span<const std::uint8_t> in);

}  // namespace tandem::virtio
