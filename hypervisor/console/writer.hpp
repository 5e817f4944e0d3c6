// Writer: the one sink every console message goes through (the serial port on the machine,
// a string buffer in host tests), and print(): "{}" placeholders filled from typed arguments.
// No allocation, no varargs: each argument type chooses its own formatting.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>

#include "hypervisor/util/result.hpp"

namespace tandem {

class Writer {
public:
    virtual void write(std::string_view text) = 0;
    // Everything written so far has reached its destination when this returns (a buffered
    // console drains to its UART, waiting); most writers have nothing held back.
    virtual void flush() {}
    // Whether a line of `bytes` bytes (its newline included) written now would be kept whole,
    // without waiting: a guest device's transmitter reports "ready" only then, so a guest that
    // waits for it loses nothing (uart16550_model.hpp). Most writers always keep what they get.
    virtual bool has_room(std::size_t bytes) const {
        (void)bytes;
        return true;
    }

protected:
    ~Writer() = default;
};

// Formatting wrappers.
struct Hex {
    std::uint64_t value;
    int min_digits = 1;
};
constexpr Hex hex(std::uint64_t v, int min_digits = 1) { return Hex{v, min_digits}; }
// Hex with the width of the type, e.g. hex_fixed(uint32_t) -> 8 digits.
template <class T>
constexpr Hex hex_fixed(T v) {
    return Hex{static_cast<std::uint64_t>(v), static_cast<int>(sizeof(T) * 2)};
}

// Hex digits without the 0x prefix, zero-padded: PCI addresses ("00:03.0"), byte dumps.
struct HexDigits {
    std::uint64_t value;
    int digits = 2;
};
constexpr HexDigits hex_digits(std::uint64_t v, int digits = 2) { return HexDigits{v, digits}; }

// A byte count printed for humans: whole units exactly ("256 MiB", "4 KiB", "512 B"), otherwise
// one truncated decimal ("1.5 KiB", "254.9 MiB").
struct Bytes {
    std::uint64_t value;
};

struct YesNo {
    bool value;
};

// A MAC address or other short byte string in aa:bb:cc form.
struct ColonHex {
    const std::uint8_t* data;
    std::size_t size;
};

namespace format_detail {
void put(Writer& w, std::string_view s);
void put(Writer& w, const char* s);
void put(Writer& w, char c);
void put(Writer& w, bool b);
void put_unsigned(Writer& w, std::uint64_t v);
void put_signed(Writer& w, std::int64_t v);
void put(Writer& w, Hex h);
void put(Writer& w, HexDigits h);
void put(Writer& w, Bytes b);
void put(Writer& w, YesNo b);
void put(Writer& w, ColonHex b);
void put(Writer& w, const Error& e);

template <class T>
void put_arg(Writer& w, const T& v) {
    if constexpr (std::is_same_v<T, bool>) {
        put(w, v);
    } else if constexpr (std::is_same_v<T, char>) {
        put(w, v);
    } else if constexpr (std::is_enum_v<T>) {
        put_unsigned(w, static_cast<std::uint64_t>(v));
    } else if constexpr (std::is_integral_v<T> && std::is_signed_v<T>) {
        put_signed(w, static_cast<std::int64_t>(v));
    } else if constexpr (std::is_integral_v<T>) {
        put_unsigned(w, static_cast<std::uint64_t>(v));
    } else {
        put(w, v);
    }
}

// Writes fmt up to the next "{}" and returns the rest after it (or empty at the end).
std::string_view put_until_placeholder(Writer& w, std::string_view fmt, bool& found);
}  // namespace format_detail

// With no arguments left, the rest of the format is literal text ("{}" included).
inline void print(Writer& w, std::string_view fmt) { w.write(fmt); }

template <class First, class... Rest>
void print(Writer& w, std::string_view fmt, const First& first, const Rest&... rest) {
    bool found = false;
    std::string_view tail = format_detail::put_until_placeholder(w, fmt, found);
    if (!found) return;  // more arguments than placeholders: the extra ones are a bug, not output
    format_detail::put_arg(w, first);
    print(w, tail, rest...);
}

template <class... Args>
void println(Writer& w, std::string_view fmt, const Args&... args) {
    print(w, fmt, args...);
    w.write("\n");
}

// A Writer into a fixed caller-owned buffer; output past the end is dropped and counted.
class BufferWriter final : public Writer {
public:
    BufferWriter(char* buffer, std::size_t capacity) : buffer_(buffer), capacity_(capacity) {}
    void write(std::string_view text) override;
    std::string_view view() const { return {buffer_, size_}; }
    std::size_t dropped() const { return dropped_; }
    void clear() { size_ = 0; dropped_ = 0; }

private:
    char* buffer_;
    std::size_t capacity_;
    std::size_t size_ = 0;
    std::size_t dropped_ = 0;
};

}  // namespace tandem
