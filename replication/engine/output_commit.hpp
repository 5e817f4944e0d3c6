// The output-commit buffer (DESIGN §1, §3 step 7): the guest's network frames produced during
// epoch N are held here and leave the client NIC only after the backup acknowledged epoch N, so
// whatever a client saw was produced by a state the backup has. Frames are kept in order with
// the epoch they belong to; release_through(N) sends every frame of epochs up to N. When no
// backup exists (standalone, or the backup was lost) the buffer passes frames straight through.
// Fixed storage from the caller; a full buffer refuses the frame (the guest's transmit queue
// then waits), nothing is dropped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "hypervisor/devices/virtio/virtio_net.hpp"

namespace tandem::engine {

class OutputCommitBuffer final : public virtio::NetBackend {
public:
    // The largest frame the guest's virtio-net sends (a VLAN-tagged one): a frame it accepted is
    // never too big to hold here.
    static constexpr std::size_t kSlotSize = virtio::VirtioMmioNet::kMaxFrame;

    // storage: slots * kSlotSize bytes; out: where released frames go (the client NIC).
    OutputCommitBuffer(std::span<std::uint8_t> storage, virtio::NetBackend& out);

    // The epoch frames produced from now on belong to (the next epoch to be captured).
    void set_epoch(std::uint64_t epoch) { epoch_ = epoch; }
    // Held (true) or passed straight through (false: no backup to wait for). Switching to
    // pass-through releases everything held, in order.
    void set_holding(bool holding);
    bool holding() const { return holding_; }

    bool transmit(std::span<const std::uint8_t> frame) override;
    // The backup holds epoch N: send every frame of epochs <= N. Returns how many were sent;
    // frames the NIC could not take now stay, in order, for the next call.
    std::size_t release_through(std::uint64_t epoch);
    // Retries frames already released that the NIC refused.
    std::size_t flush_released() { return release_through(released_through_); }

    std::size_t held() const { return count_; }
    std::uint64_t frames_held_total() const { return held_total_; }
    std::uint64_t frames_released_total() const { return released_total_; }
    std::uint64_t refusals() const { return refusals_; }

private:
    struct Slot {
        std::uint64_t epoch;
        std::uint16_t length;
    };
    static constexpr std::size_t kMaxSlots = 1024;

    std::span<std::uint8_t> storage_;
    virtio::NetBackend& out_;
    Slot slots_[kMaxSlots]{};
    std::size_t capacity_ = 0;
    std::size_t head_ = 0, count_ = 0;
    std::uint64_t epoch_ = 0;
    std::uint64_t released_through_ = 0;
    bool has_released_ = false;
    bool holding_ = true;
    std::uint64_t held_total_ = 0, released_total_ = 0, refusals_ = 0;
};

}  // namespace tandem::engine
