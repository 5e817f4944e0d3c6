#include "replication/engine/stream_queue.hpp"

namespace tandem::engine {

// Copies are done in at most two contiguous pieces (the ring wraps once): whole-block copies,
// not byte loops, since every page of every epoch passes through here.

Status StreamQueue::write(std::span<const std::uint8_t> bytes) {
    if (bytes.size() > room()) return Error::of("checkpoint: stream queue overflow (a bug: room is checked first)", bytes.size());
    std::size_t tail = (head_ + count_) % storage_.size();
    std::size_t first = storage_.size() - tail < bytes.size() ? storage_.size() - tail : bytes.size();
    __builtin_memcpy(storage_.data() + tail, bytes.data(), first);
    __builtin_memcpy(storage_.data(), bytes.data() + first, bytes.size() - first);
    count_ += bytes.size();
    return success();
}

std::size_t StreamQueue::peek(std::span<std::uint8_t> out) const {
    std::size_t n = out.size() < count_ ? out.size() : count_;
    std::size_t first = storage_.size() - head_ < n ? storage_.size() - head_ : n;
    __builtin_memcpy(out.data(), storage_.data() + head_, first);
    __builtin_memcpy(out.data() + first, storage_.data(), n - first);
    return n;
}

void StreamQueue::drop(std::size_t n) {
    if (n > count_) n = count_;
    head_ = (head_ + n) % storage_.size();
    count_ -= n;
}

}  // namespace tandem::engine
