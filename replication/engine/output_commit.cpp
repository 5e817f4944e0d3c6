#include "replication/engine/output_commit.hpp"

namespace tandem::engine {

OutputCommitBuffer::OutputCommitBuffer(std::span<std::uint8_t> storage, virtio::NetBackend& out)
    : storage_(storage), out_(out) {
    capacity_ = storage.size() / kSlotSize;
    if (capacity_ > kMaxSlots) capacity_ = kMaxSlots;
}

void OutputCommitBuffer::set_holding(bool holding) {
    holding_ = holding;
    if (!holding_) {
        release_through(~0ull);
    } else {
        // A new backup: nothing of the epochs to come is acknowledged yet. Frames still queued
        // from pass-through (tagged 0) stay released.
        released_through_ = 0;
        has_released_ = true;
    }
}

bool OutputCommitBuffer::transmit(std::span<const std::uint8_t> frame) {
    if (frame.size() > kSlotSize) return true;  // cannot happen: virtio-net drops (and counts) larger frames
    if (!holding_ && count_ == 0) {
        if (out_.transmit(frame)) {
            ++released_total_;
            return true;
        }
        // The NIC is busy: keep the frame, released at once, so order is kept.
    }
    if (count_ == capacity_) {
        ++refusals_;
        return false;  // the guest's queue waits until the backup catches up
    }
    std::size_t index = (head_ + count_) % capacity_;
    std::uint8_t* at = storage_.data() + index * kSlotSize;
    __builtin_memcpy(at, frame.data(), frame.size());
    slots_[index] = {holding_ ? epoch_ : 0, static_cast<std::uint16_t>(frame.size())};
    ++count_;
    ++held_total_;
    if (!holding_) release_through(~0ull);
    return true;
}

std::size_t OutputCommitBuffer::release_through(std::uint64_t epoch) {
    if (!has_released_ || epoch > released_through_) released_through_ = epoch;
    has_released_ = true;
    std::size_t sent = 0;
    while (count_ != 0) {
        const Slot& s = slots_[head_];
        if (s.epoch > released_through_) break;
        if (!out_.transmit({storage_.data() + head_ * kSlotSize, s.length})) break;  // NIC ring full: later
        head_ = (head_ + 1) % capacity_;
        --count_;
        ++sent;
        ++released_total_;
    }
    return sent;
}

}  // namespace tandem::engine
