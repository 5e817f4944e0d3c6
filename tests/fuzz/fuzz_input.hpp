// Reading a fuzzer's input front to back: fixed-size little-endian fields, then whatever is left.
// Past the end every read yields zeros, so an input of any length is a complete program and a seed
// written field by field (fuzz_guest_seeds.cpp) reads back exactly as written.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace fuzz {

class Input {
public:
    Input(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}

    bool empty() const { return at_ >= size_; }
    std::size_t left() const { return size_ - at_; }

    std::uint8_t u8() { return at_ < size_ ? data_[at_++] : 0; }
    std::uint16_t u16() { return static_cast<std::uint16_t>(u8() | u8() << 8); }
    std::uint32_t u32() { return u16() | static_cast<std::uint32_t>(u16()) << 16; }
    std::uint64_t u64() { return u32() | static_cast<std::uint64_t>(u32()) << 32; }
    bool flag() { return (u8() & 1) != 0; }
    // One of `n` choices (n > 0).
    unsigned pick(unsigned n) { return u8() % n; }

    // Up to `n` bytes, fewer at the end of the input.
    std::span<const std::uint8_t> bytes(std::size_t n) {
        if (n > left()) n = left();
        std::span<const std::uint8_t> out{data_ + at_, n};
        at_ += n;
        return out;
    }
    std::span<const std::uint8_t> rest() { return bytes(left()); }

private:
    const std::uint8_t* data_;
    std::size_t size_;
    std::size_t at_ = 0;
};

}  // namespace fuzz
