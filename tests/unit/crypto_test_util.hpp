// Helpers for the crypto and replication-link tests: hex strings as in RFC 8439's listings
// ("00:01:02", "4c 61 64", "e4e7f110" all work), and a seeded PRNG whose seed is printed.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <doctest/doctest.h>

namespace test {

using ByteVec = std::vector<std::uint8_t>;

// Hex digits; spaces, colons and newlines are ignored.
inline ByteVec hex_bytes(std::string_view text) {
    ByteVec out;
    int high = -1;
    for (char c : text) {
        int v;
        if (c >= '0' && c <= '9') v = c - '0';
        else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
        else if (c == ' ' || c == ':' || c == '\n' || c == '\t') continue;
        else throw std::runtime_error(std::string("bad hex digit: ") + c);
        if (high < 0) {
            high = v;
        } else {
            out.push_back(static_cast<std::uint8_t>(high << 4 | v));
            high = -1;
        }
    }
    if (high >= 0) throw std::runtime_error("odd number of hex digits");
    return out;
}

template <std::size_t N>
std::array<std::uint8_t, N> hex_array(std::string_view text) {
    ByteVec v = hex_bytes(text);
    if (v.size() != N) throw std::runtime_error("hex string has the wrong length");
    std::array<std::uint8_t, N> a{};
    for (std::size_t i = 0; i < N; ++i) a[i] = v[i];
    return a;
}

inline ByteVec ascii_bytes(std::string_view s) { return ByteVec(s.begin(), s.end()); }

inline std::string to_hex(std::span<const std::uint8_t> b) {
    static const char* digits = "0123456789abcdef";
    std::string s;
    for (std::uint8_t x : b) {
        s += digits[x >> 4];
        s += digits[x & 15];
    }
    return s;
}

// The seed of randomised tests: TANDEM_TEST_SEED from the environment, else a fixed default,
// so a failure reproduces; each test prints it through INFO/MESSAGE.
inline std::uint64_t test_seed(std::uint64_t fallback) {
    if (const char* env = std::getenv("TANDEM_TEST_SEED")) return std::strtoull(env, nullptr, 0);
    return fallback;
}

inline void fill_random(std::mt19937_64& rng, std::span<std::uint8_t> out) {
    for (auto& b : out) b = static_cast<std::uint8_t>(rng());
}

}  // namespace test
