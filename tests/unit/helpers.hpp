// Shared helpers for the host unit tests: a Writer into a std::string, fixture loading, and a
// little-endian byte builder for synthetic boot-loader structures.
#pragma once

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "hypervisor/console/writer.hpp"
#include "hypervisor/util/result.hpp"

namespace test {

// How many times `what` occurs in `text` (overlaps counted).
inline std::size_t count(std::string_view text, std::string_view what) {
    std::size_t n = 0;
    for (std::size_t at = text.find(what); at != std::string_view::npos; at = text.find(what, at + 1)) ++n;
    return n;
}

class StringWriter final : public tandem::Writer {
public:
    void write(std::string_view text) override { text_.append(text); }
    const std::string& str() const { return text_; }
    void clear() { text_.clear(); }

private:
    std::string text_;
};

// print() into a fresh string.
template <class... Args>
std::string format(std::string_view fmt, const Args&... args) {
    StringWriter w;
    tandem::print(w, fmt, args...);
    return w.str();
}

inline std::string message(const tandem::Error& e) { return e.message; }

inline std::string fixture_path(const char* name) { return std::string(TANDEM_FIXTURES) + "/" + name; }

inline std::string read_text_fixture(const char* name) {
    std::ifstream in(fixture_path(name));
    if (!in) throw std::runtime_error("cannot open fixture " + fixture_path(name));
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// Hex text, whitespace ignored, '#' lines are comments.
inline std::vector<std::uint8_t> read_hex_fixture(const char* name) {
    std::istringstream in(read_text_fixture(name));
    std::vector<std::uint8_t> bytes;
    std::string line;
    auto nibble = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        throw std::runtime_error(std::string("bad hex digit in fixture: ") + c);
    };
    while (std::getline(in, line)) {
        if (!line.empty() && line[0] == '#') continue;
        std::string digits;
        for (char c : line) {
            if (c != ' ' && c != '\t' && c != '\r') digits += c;
        }
        if (digits.size() % 2 != 0) throw std::runtime_error("odd hex line in fixture");
        for (std::size_t i = 0; i < digits.size(); i += 2) {
            bytes.push_back(static_cast<std::uint8_t>(nibble(digits[i]) << 4 | nibble(digits[i + 1])));
        }
    }
    return bytes;
}

// Appends little-endian integers and strings to a byte vector.
class ByteBuilder {
public:
    ByteBuilder& u8(std::uint8_t v) {
        bytes_.push_back(v);
        return *this;
    }
    ByteBuilder& u32(std::uint32_t v) {
        for (int i = 0; i < 4; ++i) bytes_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
        return *this;
    }
    ByteBuilder& u64(std::uint64_t v) {
        for (int i = 0; i < 8; ++i) bytes_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
        return *this;
    }
    // The characters of s, then a NUL when terminate is true.
    ByteBuilder& str(std::string_view s, bool terminate = true) {
        bytes_.insert(bytes_.end(), s.begin(), s.end());
        if (terminate) bytes_.push_back(0);
        return *this;
    }
    ByteBuilder& zeros(std::size_t n) {
        bytes_.insert(bytes_.end(), n, 0);
        return *this;
    }
    ByteBuilder& pad_to(std::size_t alignment) {
        while (bytes_.size() % alignment != 0) bytes_.push_back(0);
        return *this;
    }
    void put_u32(std::size_t offset, std::uint32_t v) {
        for (std::size_t i = 0; i < 4; ++i) bytes_.at(offset + i) = static_cast<std::uint8_t>(v >> (8 * i));
    }
    std::size_t size() const { return bytes_.size(); }
    std::vector<std::uint8_t>& bytes() { return bytes_; }

private:
    std::vector<std::uint8_t> bytes_;
};

inline void put_u32(std::vector<std::uint8_t>& bytes, std::size_t offset, std::uint32_t v) {
    for (std::size_t i = 0; i < 4; ++i) bytes.at(offset + i) = static_cast<std::uint8_t>(v >> (8 * i));
}

inline std::uint32_t get_u32(const std::vector<std::uint8_t>& bytes, std::size_t offset) {
    std::uint32_t v = 0;
    for (std::size_t i = 0; i < 4; ++i) v |= static_cast<std::uint32_t>(bytes.at(offset + i)) << (8 * i);
    return v;
}

}  // namespace test
