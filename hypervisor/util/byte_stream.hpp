// Bounded little-endian writing and reading of byte buffers, for every encoding that crosses a
// trust boundary (checkpoints, device state). The writer never writes past its buffer (it
// records the overflow instead); the reader never reads past its input (it fails instead).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "hypervisor/util/result.hpp"

namespace tandem {

class ByteWriter {
public:
    explicit ByteWriter(std::span<std::uint8_t> buffer) : buffer_(buffer) {}

    template <class T>
    void put(T value) {
        for (std::size_t i = 0; i < sizeof(T); ++i) put_byte(static_cast<std::uint8_t>(static_cast<std::uint64_t>(value) >> (8 * i)));
    }
    void put_bytes(std::span<const std::uint8_t> bytes) {
        for (std::uint8_t b : bytes) put_byte(b);
    }
    // Reserves n bytes to be filled later (lengths written after their payload); nullptr on overflow.
    std::uint8_t* reserve(std::size_t n) {
        if (overflow_ || n > buffer_.size() - size_) {
            overflow_ = true;
            return nullptr;
        }
        std::uint8_t* at = buffer_.data() + size_;
        size_ += n;
        return at;
    }

    std::size_t size() const { return size_; }
    bool overflow() const { return overflow_; }
    std::span<const std::uint8_t> written() const { return buffer_.first(size_); }

private:
    void put_byte(std::uint8_t b) {
        if (size_ < buffer_.size()) {
            buffer_[size_++] = b;
        } else {
            overflow_ = true;
        }
    }

    std::span<std::uint8_t> buffer_;
    std::size_t size_ = 0;
    bool overflow_ = false;
};

template <class T>
void store_le(std::uint8_t* at, T value) {
    for (std::size_t i = 0; i < sizeof(T); ++i) at[i] = static_cast<std::uint8_t>(static_cast<std::uint64_t>(value) >> (8 * i));
}

class ByteReader {
public:
    explicit ByteReader(std::span<const std::uint8_t> input) : input_(input) {}

    template <class T>
    bool get(T& value) {
        if (sizeof(T) > remaining()) return fail();
        std::uint64_t v = 0;
        for (std::size_t i = 0; i < sizeof(T); ++i) v |= static_cast<std::uint64_t>(input_[offset_ + i]) << (8 * i);
        value = static_cast<T>(v);
        offset_ += sizeof(T);
        return true;
    }
    bool get_bytes(std::span<const std::uint8_t>& out, std::size_t n) {
        if (n > remaining()) return fail();
        out = input_.subspan(offset_, n);
        offset_ += n;
        return true;
    }

    std::size_t remaining() const { return input_.size() - offset_; }
    std::size_t offset() const { return offset_; }
    bool failed() const { return failed_; }

private:
    bool fail() {
        failed_ = true;
        return false;
    }

    std::span<const std::uint8_t> input_;
    std::size_t offset_ = 0;
    bool failed_ = false;
};

}  // namespace tandem
