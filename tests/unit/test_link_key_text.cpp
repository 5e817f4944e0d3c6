// The link key as the text of a GRUB module (replication/link/link_key_text.hpp) and the one
// hexadecimal-digit helper it shares with the command-line parser (hypervisor/util/hex_digits.hpp).
#include <doctest/doctest.h>

#include <string>
#include <string_view>

#include "hypervisor/util/hex_digits.hpp"
#include "replication/link/link_key_text.hpp"

using namespace tandem;
using namespace tandem::link;

namespace {

constexpr std::string_view kDigits = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

Result<crypto::Key> parse(std::string_view text) {
    return parse_link_key_text({reinterpret_cast<const std::uint8_t*>(text.data()), text.size()});
}

crypto::Key counting_key() {
    crypto::Key k{};
    for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(i);
    return k;
}

std::string upper(std::string_view s) {
    std::string out(s);
    for (char& c : out) {
        if (c >= 'a' && c <= 'f') c = static_cast<char>(c - 'a' + 'A');
    }
    return out;
}

}  // namespace

TEST_CASE("hex digits: exactly 0-9, a-f and A-F have a value") {
    for (int c = 0; c < 256; ++c) {
        CAPTURE(c);
        const char ch = static_cast<char>(c);
        int expected = -1;
        if (c >= '0' && c <= '9') expected = c - '0';
        if (c >= 'a' && c <= 'f') expected = c - 'a' + 10;
        if (c >= 'A' && c <= 'F') expected = c - 'A' + 10;
        CHECK(hex_digit(ch) == expected);
    }
}

TEST_CASE("link key text: 64 digits in either case give the key, byte by byte, high nibble first") {
    auto lower = parse(kDigits);
    REQUIRE(lower.ok());
    CHECK(*lower == counting_key());
    auto up = parse(upper(kDigits));
    REQUIRE(up.ok());
    CHECK(*up == counting_key());
    std::string mixed(kDigits);
    mixed[21] = 'A';  // the 'a' of 0x0a
    auto m = parse(mixed);
    REQUIRE(m.ok());
    CHECK(*m == counting_key());
    auto ff = parse(std::string(64, 'f'));
    REQUIRE(ff.ok());
    for (std::uint8_t b : *ff) CHECK(b == 0xff);
}

TEST_CASE("link key text: whitespace around, between and inside the digits is allowed") {
    const std::string variants[] = {
        std::string(kDigits) + "\n",                                           // echo > file
        "  \t" + std::string(kDigits) + " \r\n\r\n",                           // padding, CRLF
        std::string(kDigits.substr(0, 32)) + "\n" + std::string(kDigits.substr(32)) + "\n",  // xxd -p -c 16
        "00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f\n10 11 12 13 14 15 16 17 18 19 1a 1b 1c 1d 1e 1f\n",
        "0 0 0 1\t02\r03" + std::string(kDigits.substr(8)),                    // a pair split by a space
    };
    for (const std::string& text : variants) {
        CAPTURE(text);
        auto key = parse(text);
        REQUIRE(key.ok());
        CHECK(*key == counting_key());
    }
}

TEST_CASE("link key text: too few digits are refused with the count found") {
    auto r = parse(kDigits.substr(0, 63));
    REQUIRE_FALSE(r.ok());
    CHECK(std::string(r.error().message) == "the link_key module is not 64 hexadecimal digits; digits found");
    CHECK(r.error().value == 63);
    auto half = parse(std::string(kDigits.substr(0, 32)) + "\n");
    REQUIRE_FALSE(half.ok());
    CHECK(half.error().value == 32);
    auto one = parse(" f ");
    REQUIRE_FALSE(one.ok());
    CHECK(one.error().value == 1);
}

TEST_CASE("link key text: more than 64 digits are refused, also when the extra one is after whitespace") {
    const std::string twice = std::string(kDigits) + std::string(kDigits);
    for (const std::string& text : {std::string(kDigits) + "0", std::string(kDigits) + "\n0\n", twice}) {
        CAPTURE(text);
        auto r = parse(text);
        REQUIRE_FALSE(r.ok());
        CHECK(std::string(r.error().message) == "the link_key module holds more than 64 hexadecimal digits");
    }
}

TEST_CASE("link key text: a character that is neither a digit nor whitespace is refused with its offset") {
    struct Case {
        std::string text;
        std::uint64_t offset;
    };
    std::string with_g(kDigits);
    with_g[10] = 'g';
    std::string with_nul(kDigits);
    with_nul[63] = '\0';
    const Case cases[] = {
        {with_g, 10},
        {with_nul, 63},
        {"0x" + std::string(kDigits.substr(2)), 1},              // a C prefix is not part of the key
        {std::string(kDigits.substr(0, 2)) + ":" + std::string(kDigits.substr(2)), 2},
        {"key=" + std::string(kDigits), 0},                      // the command-line form in a module
        {std::string(kDigits) + "\v", 64},                      // vertical tab: not one of the four
    };
    for (const Case& c : cases) {
        CAPTURE(c.text);
        auto r = parse(c.text);
        REQUIRE_FALSE(r.ok());
        CHECK(std::string(r.error().message) ==
              "the link_key module holds a character that is neither a hexadecimal digit nor whitespace, at offset");
        CHECK(r.error().value == c.offset);
    }
}

TEST_CASE("link key text: an empty module, or one of whitespace only, says there are no digits") {
    for (std::string_view text : {std::string_view{}, std::string_view{"\n"}, std::string_view{" \t\r\n  "}}) {
        CAPTURE(text.size());
        auto r = parse(text);
        REQUIRE_FALSE(r.ok());
        CHECK(std::string(r.error().message) == "the link_key module holds no hexadecimal digits (64 expected)");
    }
}
