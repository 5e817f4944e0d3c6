// A whole decimal number as typed by a person (the command line's keys, the shell's arguments):
// digits only, no sign, no suffix, at most 19 of them so the value cannot overflow 64 bits.
#pragma once

#include <cstdint>
#include <string_view>

namespace tandem {

constexpr bool parse_decimal(std::string_view v, std::uint64_t& out) {
    if (v.empty() || v.size() > 19) return false;
    std::uint64_t n = 0;
    for (char c : v) {
        if (c < '0' || c > '9') return false;
        n = n * 10 + static_cast<std::uint64_t>(c - '0');
    }
    out = n;
    return true;
}

}  // namespace tandem
