// a * b / c without overflow, for converting between clocks (guest TSC cycles, PIT ticks, RTC
// divider ticks): the product is formed in 128 bits (one MUL on x86-64) and divided without
// __int128 division, which would need a compiler-runtime routine the freestanding image lacks.
#pragma once

#include <cstdint>

namespace tandem {

struct MulDivResult {
    std::uint64_t quotient;  // floor(a * b / c), saturated at UINT64_MAX
    bool exact;              // no remainder (and no saturation)
};

constexpr MulDivResult mul_div_full(std::uint64_t a, std::uint64_t b, std::uint64_t c) {
    constexpr std::uint64_t kMax = ~0ull;
    if (c == 0) return {kMax, false};
    using u128 = unsigned __int128;
    u128 product = static_cast<u128>(a) * b;
    auto high = static_cast<std::uint64_t>(product >> 64);
    auto low = static_cast<std::uint64_t>(product);
    if (high == 0) return {low / c, low % c == 0};
    if (high >= c) return {kMax, false};  // the quotient needs more than 64 bits
    // Restoring long division: the remainder stays below c, the 64 quotient bits come from low.
    std::uint64_t remainder = high, quotient = 0;
    for (int i = 0; i < 64; ++i) {
        bool carry = (remainder >> 63) != 0;
        remainder = (remainder << 1) | (low >> 63);
        low <<= 1;
        quotient <<= 1;
        if (carry || remainder >= c) {
            remainder -= c;
            quotient |= 1;
        }
    }
    return {quotient, remainder == 0};
}

// floor(a * b / c), saturated.
constexpr std::uint64_t mul_div(std::uint64_t a, std::uint64_t b, std::uint64_t c) {
    return mul_div_full(a, b, c).quotient;
}

// ceil(a * b / c), saturated.
constexpr std::uint64_t mul_div_ceil(std::uint64_t a, std::uint64_t b, std::uint64_t c) {
    MulDivResult r = mul_div_full(a, b, c);
    return r.exact || r.quotient == ~0ull ? r.quotient : r.quotient + 1;
}

constexpr std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b) { return a + b < a ? ~0ull : a + b; }

static_assert(mul_div(~0ull, ~0ull, ~0ull) == ~0ull);
static_assert(mul_div(1ull << 63, 4, 8) == 1ull << 62);
static_assert(mul_div(3, 5, 2) == 7 && mul_div_ceil(3, 5, 2) == 8 && mul_div_ceil(4, 5, 2) == 10);
static_assert(mul_div(~0ull, 2, 1) == ~0ull);

}  // namespace tandem
