#include "replication/link/link_key_text.hpp"

#include "hypervisor/util/hex_digits.hpp"
#include "replication/crypto/constant_time.hpp"

namespace tandem::link {
namespace {

constexpr bool is_space(std::uint8_t c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// A refused text may still have left most of a real key behind: not on the stack.
Error refuse(crypto::Key& partial, Error error) {
    crypto::secure_zero(partial);
    return error;
}

}  // namespace

Result<crypto::Key> parse_link_key_text(std::span<const std::uint8_t> text) {
    crypto::Key key{};
    std::size_t digits = 0;
    for (std::size_t at = 0; at < text.size(); ++at) {
        const std::uint8_t c = text[at];
        if (is_space(c)) continue;
        const int d = hex_digit(static_cast<char>(c));
        if (d < 0) {
            return refuse(key, Error::of("the link_key module holds a character that is neither a hexadecimal digit "
                                         "nor whitespace, at offset", at));
        }
        if (digits == kLinkKeyTextDigits) {
            return refuse(key, Error::of("the link_key module holds more than 64 hexadecimal digits"));
        }
        key[digits / 2] = static_cast<std::uint8_t>(key[digits / 2] << 4 | d);
        ++digits;
    }
    if (digits == 0) return refuse(key, Error::of("the link_key module holds no hexadecimal digits (64 expected)"));
    if (digits != kLinkKeyTextDigits) {
        return refuse(key, Error::of("the link_key module is not 64 hexadecimal digits; digits found", digits));
    }
    return key;
}

}  // namespace tandem::link
