// Between the checkpoint encoder and the replication link: the encoder writes records here (a
// RecordSink) and the link takes them out in message-sized pieces when its window allows. A
// byte ring over caller storage; the engine encodes a page only when a page's worth of room is
// free, so the encoder never waits.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "replication/checkpoint/encoder.hpp"

namespace tandem::engine {

class StreamQueue final : public checkpoint::RecordSink {
public:
    explicit StreamQueue(std::span<std::uint8_t> storage) : storage_(storage) {}

    Status write(std::span<const std::uint8_t> bytes) override;
    std::size_t size() const { return count_; }
    std::size_t room() const { return storage_.size() - count_; }
    // Copies up to out.size() bytes from the front without removing them.
    std::size_t peek(std::span<std::uint8_t> out) const;
    void drop(std::size_t n);
    void clear() { head_ = count_ = 0; }

private:
    std::span<std::uint8_t> storage_;
    std::size_t head_ = 0, count_ = 0;
};

}  // namespace tandem::engine
