// print()/println() formatting and BufferWriter (hypervisor/console/writer.hpp).
#include <doctest/doctest.h>

#include <cstdint>
#include <limits>

#include "helpers.hpp"
#include "hypervisor/console/writer.hpp"

using namespace tandem;
using test::format;

TEST_SUITE("writer") {

TEST_CASE("placeholders are filled in order with typed arguments") {
    CHECK(format("plain text") == "plain text");
    CHECK(format("") == "");
    CHECK(format("a{}b{}c", 1, "x") == "a1bxc");
    CHECK(format("{}{}{}", 'a', std::string_view{"bc"}, 7u) == "abc7");
    CHECK(format("{} {}", true, false) == "true false");
    CHECK(format("[{}]", static_cast<const char*>(nullptr)) == "[(null)]");
    enum class Colour : std::uint8_t { red = 3 };
    CHECK(format("{}", Colour::red) == "3");
}

TEST_CASE("extra arguments beyond the placeholders are not printed") {
    CHECK(format("a{}", 1, 2, 3) == "a1");
    CHECK(format("none", 1) == "none");
}

// Regression test (bug found and fixed): writer.hpp:84 print(w, fmt) (the no-argument overload that ends the recursion) stops at
// the first "{}" and drops it and everything after it, so a placeholder without an argument
// eats the rest of the line: print("x={} y={} end", 5) gives "x=5 y=" instead of
// "x=5 y={} end" (and println(out, "use {} here") prints "use ").
TEST_CASE("text after a placeholder without an argument is kept") {
    CHECK(format("x={} y={} end", 5) == "x=5 y={} end");
    CHECK(format("use {} here") == "use {} here");
}

TEST_CASE("println appends exactly one newline") {
    test::StringWriter w;
    println(w, "n={}", 42);
    println(w, "");
    CHECK(w.str() == "n=42\n\n");
}

TEST_CASE("unsigned and signed integers") {
    CHECK(format("{}", 0) == "0");
    CHECK(format("{}", 10u) == "10");
    CHECK(format("{}", std::numeric_limits<std::uint64_t>::max()) == "18446744073709551615");
    CHECK(format("{}", -1) == "-1");
    CHECK(format("{}", static_cast<std::int8_t>(-128)) == "-128");
    CHECK(format("{}", static_cast<short>(-300)) == "-300");
    CHECK(format("{}", std::numeric_limits<std::int64_t>::min()) == "-9223372036854775808");
    CHECK(format("{}", std::numeric_limits<std::int64_t>::max()) == "9223372036854775807");
    CHECK(format("{}", static_cast<std::uint8_t>(255)) == "255");
}

TEST_CASE("hex with minimum widths") {
    CHECK(format("{}", hex(0)) == "0x0");
    CHECK(format("{}", hex(0xabc)) == "0xabc");
    CHECK(format("{}", hex(5, 4)) == "0x0005");
    CHECK(format("{}", hex(0x12345, 2)) == "0x12345");  // a minimum, never a truncation
    CHECK(format("{}", hex(0, 0)) == "0x0");
    CHECK(format("{}", hex(1, -3)) == "0x1");
    CHECK(format("{}", hex(1, 40)) == "0x0000000000000001");  // clamped to 16 digits
    CHECK(format("{}", hex(~std::uint64_t{0})) == "0xffffffffffffffff");
}

TEST_CASE("hex_fixed uses the width of the type") {
    CHECK(format("{}", hex_fixed(static_cast<std::uint8_t>(0xa))) == "0x0a");
    CHECK(format("{}", hex_fixed(static_cast<std::uint16_t>(0xbeef))) == "0xbeef");
    CHECK(format("{}", hex_fixed(static_cast<std::uint16_t>(1))) == "0x0001");
    CHECK(format("{}", hex_fixed(std::uint32_t{0x1234})) == "0x00001234");
    CHECK(format("{}", hex_fixed(std::uint64_t{0x1})) == "0x0000000000000001");
}

TEST_CASE("Bytes: whole units exactly, otherwise one truncated decimal") {
    CHECK(format("{}", Bytes{0}) == "0 B");
    CHECK(format("{}", Bytes{1023}) == "1023 B");
    CHECK(format("{}", Bytes{1024}) == "1 KiB");
    CHECK(format("{}", Bytes{4096}) == "4 KiB");
    CHECK(format("{}", Bytes{1536}) == "1.5 KiB");  // the header's "1536 B" example is not what it does
    CHECK(format("{}", Bytes{1025}) == "1.0 KiB");  // not whole, but the first decimal is 0
    CHECK(format("{}", Bytes{2047}) == "1.9 KiB");  // truncated, never rounded up to 2.0
    CHECK(format("{}", Bytes{256ull << 20}) == "256 MiB");
    CHECK(format("{}", Bytes{(254ull << 20) + (1ull << 20) * 95 / 100}) == "254.9 MiB");
    CHECK(format("{}", Bytes{(1ull << 30) - 1}) == "1023.9 MiB");
    CHECK(format("{}", Bytes{3ull << 30}) == "3 GiB");
    CHECK(format("{}", Bytes{1ull << 40}) == "1 TiB");
    CHECK(format("{}", Bytes{1ull << 50}) == "1024 TiB");  // no unit above TiB
    CHECK(format("{}", Bytes{~std::uint64_t{0}}) == "16777215.9 TiB");
}

TEST_CASE("YesNo and ColonHex") {
    CHECK(format("{}/{}", YesNo{true}, YesNo{false}) == "yes/no");
    const std::uint8_t mac[] = {0x52, 0x54, 0x00, 0x12, 0xab, 0xff};
    CHECK(format("{}", ColonHex{mac, 6}) == "52:54:00:12:ab:ff");
    CHECK(format("{}", ColonHex{mac, 1}) == "52");
    CHECK(format("[{}]", ColonHex{mac, 0}) == "[]");
}

TEST_CASE("Error prints its value in hex only when it has one") {
    CHECK(format("{}", Error::of("boom")) == "boom");
    CHECK(format("{}", Error::of("tag runs past the end", 0x48)) == "tag runs past the end (0x48)");
    CHECK(format("{}", Error::of("zero", 0)) == "zero (0x0)");
    Error defaulted{};
    CHECK(format("[{}]", defaulted) == "[]");
}

TEST_CASE("BufferWriter keeps what fits and counts what it drops") {
    char buffer[8];
    BufferWriter w(buffer, sizeof buffer);
    CHECK(w.view().empty());
    print(w, "hello");
    CHECK(w.view() == "hello");
    CHECK(w.dropped() == 0);
    print(w, "{}!", "world");
    CHECK(w.view() == "hellowor");
    CHECK(w.dropped() == 3);
    println(w, "more");
    CHECK(w.view() == "hellowor");
    CHECK(w.dropped() == 8);
    w.clear();
    CHECK(w.view().empty());
    CHECK(w.dropped() == 0);
    print(w, "{}", hex(0xff, 4));
    CHECK(w.view() == "0x00ff");

    BufferWriter none(buffer, 0);
    print(none, "abc");
    CHECK(none.view().empty());
    CHECK(none.dropped() == 3);
}

}  // TEST_SUITE
