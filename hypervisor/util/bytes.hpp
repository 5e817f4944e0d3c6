// Reading and writing little- and big-endian integers in untrusted byte buffers. Callers check
// bounds first; these helpers never go past what they are given (they take the span, not a
// pointer).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace tandem {

template <class T>
constexpr T load_le(std::span<const std::uint8_t> bytes, std::size_t offset) {
    T value = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i) {
        value = static_cast<T>(value | static_cast<T>(static_cast<T>(bytes[offset + i]) << (8 * i)));
    }
    return value;
}

template <class T>
constexpr void store_le(std::span<std::uint8_t> bytes, std::size_t offset, T value) {
    for (std::size_t i = 0; i < sizeof(T); ++i) bytes[offset + i] = static_cast<std::uint8_t>(value >> (8 * i));
}

// Network byte order (RFC 1700's "big endian"), for the headers of frames on the wire.
template <class T>
constexpr T load_be(std::span<const std::uint8_t> bytes, std::size_t offset) {
    T value = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i) value = static_cast<T>(static_cast<T>(value << 8) | bytes[offset + i]);
    return value;
}

template <class T>
constexpr void store_be(std::span<std::uint8_t> bytes, std::size_t offset, T value) {
    for (std::size_t i = 0; i < sizeof(T); ++i) {
        bytes[offset + i] = static_cast<std::uint8_t>(value >> (8 * (sizeof(T) - 1 - i)));
    }
}

// True when [offset, offset + length) lies within a buffer of `size` bytes, without overflow.
constexpr bool fits(std::size_t size, std::size_t offset, std::size_t length) {
    return offset <= size && length <= size - offset;
}

// A NUL-terminated string inside bytes[offset, offset + max): the view excludes the NUL.
// Returns false when no NUL is found within the range.
constexpr bool c_string_in(std::span<const std::uint8_t> bytes, std::size_t offset, std::size_t max,
                           std::string_view& out) {
    if (offset > bytes.size()) return false;
    std::size_t limit = bytes.size() - offset < max ? bytes.size() - offset : max;
    for (std::size_t i = 0; i < limit; ++i) {
        if (bytes[offset + i] == 0) {
            out = std::string_view{reinterpret_cast<const char*>(bytes.data() + offset), i};
            return true;
        }
    }
    return false;
}

}  // namespace tandem
