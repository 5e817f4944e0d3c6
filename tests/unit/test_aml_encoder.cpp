// The AML encoder (guest-boot/acpi/aml_writer.hpp, aml_resources.hpp) against byte sequences
// computed by hand from ACPI 6.5 §20.2 (AML grammar) and §6.4 (resource descriptors): PkgLength
// at every size boundary, the integer encodings, strings, EISA ids, name strings, packages,
// buffers, nested scopes and devices, resource templates with their End Tag checksum, measuring,
// and refusals (overflow, malformed names) that never write past the buffer.
#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "guest-boot/acpi/aml_resources.hpp"
#include "guest-boot/acpi/aml_writer.hpp"

using namespace tandem::guest_boot::acpi;
using Bytes = std::vector<std::uint8_t>;

namespace {

Bytes pkg_length(std::uint32_t value) {
    std::uint8_t out[4] = {};
    unsigned n = aml::encode_pkg_length(value, out);
    return Bytes(out, out + n);
}

// Runs `body` on a writer over a roomy buffer and returns what it wrote (checking it succeeded
// and that measuring the same calls gives the same size).
template <class F>
Bytes encode(F body) {
    std::vector<std::uint8_t> buffer(1 << 20, 0xcc);
    aml::Writer w{buffer};
    body(w);
    REQUIRE_MESSAGE(w.ok(), w.error().message);
    aml::Writer m = aml::Writer::measure();
    body(m);
    CHECK(m.ok());
    CHECK(m.size() == w.size());
    return Bytes(w.written().begin(), w.written().end());
}

Bytes head(const Bytes& b, std::size_t n) { return Bytes(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(n)); }

// A Buffer holding `n` bytes of 0x5a.
Bytes buffer_of(std::size_t n) {
    return encode([n](aml::Writer& w) {
        auto mark = w.open_buffer();
        for (std::size_t i = 0; i < n; ++i) w.byte(0x5a);
        w.close_buffer(mark);
    });
}

}  // namespace

TEST_CASE("guest acpi aml: PkgLength encodings at each size boundary (§20.2.4)") {
    CHECK(pkg_length(0) == Bytes{0x00});
    CHECK(pkg_length(1) == Bytes{0x01});
    CHECK(pkg_length(63) == Bytes{0x3f});
    CHECK(pkg_length(64) == Bytes{0x40, 0x04});          // lead 01 00 0000, then 0x04: 0x040
    CHECK(pkg_length(65) == Bytes{0x41, 0x04});
    CHECK(pkg_length(0x123) == Bytes{0x43, 0x12});
    CHECK(pkg_length(4095) == Bytes{0x4f, 0xff});
    CHECK(pkg_length(4096) == Bytes{0x80, 0x00, 0x01});  // lead 10 00 0000, 0x00, 0x01: 0x01000
    CHECK(pkg_length(0xfffff) == Bytes{0x8f, 0xff, 0xff});
    CHECK(pkg_length(0x100000) == Bytes{0xc0, 0x00, 0x00, 0x01});
    CHECK(pkg_length(0x0fffffff) == Bytes{0xcf, 0xff, 0xff, 0xff});
    CHECK(pkg_length(0x10000000).empty());
}

TEST_CASE("guest acpi aml: the PkgLength counts its own bytes") {
    CHECK(aml::pkg_length_size_for_content(0) == 1);
    CHECK(aml::pkg_length_size_for_content(62) == 1);    // 62 + 1 = 63
    CHECK(aml::pkg_length_size_for_content(63) == 2);    // 63 + 1 = 64 does not fit one byte
    CHECK(aml::pkg_length_size_for_content(4093) == 2);  // 4093 + 2 = 4095
    CHECK(aml::pkg_length_size_for_content(4094) == 3);  // 4094 + 2 = 4096 does not fit two
    CHECK(aml::pkg_length_size_for_content(0xffffc) == 3);  // 0xffffc + 3 = 0xfffff
    CHECK(aml::pkg_length_size_for_content(0xffffd) == 4);
    CHECK(aml::pkg_length_size_for_content(0x0ffffffb) == 4);
    CHECK(aml::pkg_length_size_for_content(0x0ffffffc) == 0);
}

TEST_CASE("guest acpi aml: Buffers around the one-, two- and three-byte PkgLength boundaries") {
    // BufferOp PkgLength BufferSize ByteList; BufferSize is ByteConst (2 bytes) up to 255.
    Bytes b0 = buffer_of(0);
    CHECK(b0 == Bytes{0x11, 0x02, 0x00});  // Buffer(Zero) {}: content 1, total 2

    Bytes b58 = buffer_of(58);  // content 2 + 58 = 60, total 61
    CHECK(head(b58, 4) == Bytes{0x11, 0x3d, 0x0a, 0x3a});
    CHECK(b58.size() == 62);

    Bytes b60 = buffer_of(60);  // content 62, total 63: the largest one-byte PkgLength
    CHECK(head(b60, 4) == Bytes{0x11, 0x3f, 0x0a, 0x3c});
    CHECK(b60.size() == 64);

    Bytes b61 = buffer_of(61);  // content 63: needs two bytes, total 65
    CHECK(head(b61, 5) == Bytes{0x11, 0x41, 0x04, 0x0a, 0x3d});
    CHECK(b61.size() == 66);
    CHECK(b61[5] == 0x5a);
    CHECK(b61.back() == 0x5a);

    // BufferSize is a WordConst (3 bytes) from 256 on.
    Bytes b4090 = buffer_of(4090);  // content 3 + 4090 = 4093, total 4095: largest two-byte
    CHECK(head(b4090, 6) == Bytes{0x11, 0x4f, 0xff, 0x0b, 0xfa, 0x0f});
    CHECK(b4090.size() == 4096);

    Bytes b4091 = buffer_of(4091);  // content 4094: three bytes, total 4097 = 0x1001
    CHECK(head(b4091, 7) == Bytes{0x11, 0x81, 0x00, 0x01, 0x0b, 0xfb, 0x0f});
    CHECK(b4091.size() == 4098);
}

TEST_CASE("guest acpi aml: integers take the smallest encoding (§20.2.3)") {
    auto one = [](std::uint64_t v) { return encode([v](aml::Writer& w) { w.integer(v); }); };
    CHECK(one(0) == Bytes{0x00});
    CHECK(one(1) == Bytes{0x01});
    CHECK(one(2) == Bytes{0x0a, 0x02});
    CHECK(one(0xff) == Bytes{0x0a, 0xff});
    CHECK(one(0x100) == Bytes{0x0b, 0x00, 0x01});
    CHECK(one(0xffff) == Bytes{0x0b, 0xff, 0xff});
    CHECK(one(0x10000) == Bytes{0x0c, 0x00, 0x00, 0x01, 0x00});
    CHECK(one(0xd0001000) == Bytes{0x0c, 0x00, 0x10, 0x00, 0xd0});
    CHECK(one(0xffffffff) == Bytes{0x0c, 0xff, 0xff, 0xff, 0xff});
    CHECK(one(0x100000000) == Bytes{0x0e, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00});
    CHECK(one(0x0123456789abcdef) == Bytes{0x0e, 0xef, 0xcd, 0xab, 0x89, 0x67, 0x45, 0x23, 0x01});
    CHECK(one(~std::uint64_t{0}) == Bytes{0xff});
}

TEST_CASE("guest acpi aml: strings and EISA ids") {
    CHECK(encode([](aml::Writer& w) { w.string("LNRO0005"); }) ==
          Bytes{0x0d, 'L', 'N', 'R', 'O', '0', '0', '0', '5', 0x00});
    CHECK(encode([](aml::Writer& w) { w.string(""); }) == Bytes{0x0d, 0x00});
    // PNP0501: P=16 N=14 P=16 -> 0 10000 01110 10000 = 0x41d0, then 0x0501.
    CHECK(encode([](aml::Writer& w) { w.eisa_id("PNP0501"); }) == Bytes{0x0c, 0x41, 0xd0, 0x05, 0x01});
    CHECK(encode([](aml::Writer& w) { w.eisa_id("PNP0A03"); }) == Bytes{0x0c, 0x41, 0xd0, 0x0a, 0x03});
    CHECK(encode([](aml::Writer& w) { w.eisa_id("PNP0B00"); }) == Bytes{0x0c, 0x41, 0xd0, 0x0b, 0x00});  // the RTC

    std::array<std::uint8_t, 32> buf{};
    aml::Writer bad_string{buf};
    bad_string.string("caf\xc3\xa9");
    CHECK_FALSE(bad_string.ok());
    CHECK(bad_string.size() == 0);
    aml::Writer bad_eisa{buf};
    bad_eisa.eisa_id("pnp0501");
    CHECK_FALSE(bad_eisa.ok());
    aml::Writer bad_eisa2{buf};
    bad_eisa2.eisa_id("PNP05G1");
    CHECK_FALSE(bad_eisa2.ok());
}

TEST_CASE("guest acpi aml: NameStrings (§20.2.2)") {
    auto name = [](const char* path) { return encode([path](aml::Writer& w) { w.name_string(path); }); };
    CHECK(name("_SB") == Bytes{'_', 'S', 'B', '_'});
    CHECK(name("VR0A") == Bytes{'V', 'R', '0', 'A'});
    CHECK(name("\\_SB") == Bytes{'\\', '_', 'S', 'B', '_'});
    CHECK(name("\\_SB.COM1") == Bytes{'\\', 0x2e, '_', 'S', 'B', '_', 'C', 'O', 'M', '1'});
    CHECK(name("\\_SB.PCI0.S08") ==
          Bytes{'\\', 0x2f, 0x03, '_', 'S', 'B', '_', 'P', 'C', 'I', '0', 'S', '0', '8', '_'});
    CHECK(name("^^FOO") == Bytes{'^', '^', 'F', 'O', 'O', '_'});
    CHECK(name("\\") == Bytes{'\\', 0x00});

    for (const char* bad : {"", "1ABC", "ABCDE", "A..B", "A.", "_sb", "\\\\A", "A-B"}) {
        CAPTURE(bad);
        std::array<std::uint8_t, 32> buf{};
        buf.fill(0xcc);
        aml::Writer w{buf};
        w.name_string(bad);
        CHECK_FALSE(w.ok());
        CHECK(w.size() == 0);
        CHECK(buf[0] == 0xcc);
    }
}

TEST_CASE("guest acpi aml: Name, Package and the _S5 object") {
    Bytes s5 = encode([](aml::Writer& w) {
        w.name("_S5");
        auto p = w.open_package(4);
        w.integer(5);
        w.integer(0);
        w.integer(0);
        w.integer(0);
        w.close(p);
    });
    // NameOp "_S5_" PackageOp PkgLength(7) NumElements(4) 0x0A 0x05 Zero Zero Zero
    CHECK(s5 == Bytes{0x08, '_', 'S', '5', '_', 0x12, 0x07, 0x04, 0x0a, 0x05, 0x00, 0x00, 0x00});
}

TEST_CASE("guest acpi aml: nested Scope and Device get their lengths after their contents") {
    Bytes empty_scope = encode([](aml::Writer& w) { w.close(w.open_scope("\\_SB")); });
    CHECK(empty_scope == Bytes{0x10, 0x06, '\\', '_', 'S', 'B', '_'});

    Bytes nested = encode([](aml::Writer& w) {
        auto sb = w.open_scope("\\_SB");
        auto dev = w.open_device("VR00");
        w.name("_UID");
        w.integer(0x1234);
        w.close(dev);
        w.close(sb);
    });
    // Device: ExtOp DeviceOp PkgLength "VR00" NameOp "_UID" 0x0B 0x34 0x12 -> content 4+5+3 = 12, total 13.
    // Scope: content "\_SB_" (5) + device (2 + 13 = 15) = 20, total 21.
    CHECK(nested == Bytes{0x10, 0x15, '\\', '_', 'S', 'B', '_',                     //
                          0x5b, 0x82, 0x0d, 'V', 'R', '0', '0',                     //
                          0x08, '_', 'U', 'I', 'D', 0x0b, 0x34, 0x12});

    // An inner object that grows its PkgLength to two bytes moves everything after the outer
    // object's start, and the outer length counts the growth.
    Bytes grown = encode([](aml::Writer& w) {
        auto sb = w.open_scope("\\_SB");
        auto dev = w.open_device("VR00");
        for (int i = 0; i < 59; ++i) w.byte(0xa3);  // content 4 + 59 = 63: a two-byte PkgLength
        w.close(dev);
        w.close(sb);
    });
    // Device: total 63 + 2 = 65 -> 0x41 0x04; device object = 2 + 65 = 67 bytes.
    // Scope: content 5 + 67 = 72 -> two bytes, total 74 -> 0x4a 0x04.
    REQUIRE(grown.size() == 1 + 2 + 72);
    CHECK(head(grown, 12) == Bytes{0x10, 0x4a, 0x04, '\\', '_', 'S', 'B', '_', 0x5b, 0x82, 0x41, 0x04});
    CHECK(grown[12] == 'V');
    CHECK(grown.back() == 0xa3);
}

TEST_CASE("guest acpi aml: resource template with Memory32Fixed, Interrupt and End Tag checksum (§6.4)") {
    Bytes crs = encode([](aml::Writer& w) {
        auto rt = aml::open_resource_template(w);
        aml::memory32_fixed(w, true, 0xd0000000, 0x1000);
        aml::extended_interrupt(w, Trigger::edge, Polarity::active_high, false, 5);
        aml::close_resource_template(w, rt);
    });
    // Descriptors 12 + 9 + End Tag 2 = 23 = 0x17; content 2 + 23 = 25, total 26 = 0x1a.
    // Checksum: the descriptor bytes and 0x79 sum to 0x281; 0x100 - 0x81 = 0x7f.
    CHECK(crs == Bytes{0x11, 0x1a, 0x0a, 0x17,                                      //
                       0x86, 0x09, 0x00, 0x01, 0x00, 0x00, 0x00, 0xd0, 0x00, 0x10, 0x00, 0x00,  //
                       0x89, 0x06, 0x00, 0x03, 0x01, 0x05, 0x00, 0x00, 0x00,           //
                       0x79, 0x7f});

    Bytes uart = encode([](aml::Writer& w) {
        auto rt = aml::open_resource_template(w);
        aml::io_port(w, 0x3f8, 8);
        aml::extended_interrupt(w, Trigger::level, Polarity::active_low, true, 0x1234);
        aml::close_resource_template(w, rt);
    });
    // IO(Decode16, 0x3F8, 0x3F8, 1, 8) = 47 01 f8 03 f8 03 01 08; Interrupt flags: consumer,
    // level (bit 1 clear), active low (bit 2), shared (bit 3) = 0x0d.
    // Descriptors 8 + 9 + End Tag 2 = 19 = 0x13; content 21, total 22 = 0x16.
    // Sum: 0x47+1+0xf8+3+0xf8+3+1+8 + 0x89+6+0x0d+1+0x34+0x12 + 0x79 = 0x3a3; 0x100 - 0xa3 = 0x5d.
    CHECK(uart == Bytes{0x11, 0x16, 0x0a, 0x13,                          //
                        0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08,  //
                        0x89, 0x06, 0x00, 0x0d, 0x01, 0x34, 0x12, 0x00, 0x00,  //
                        0x79, 0x5d});
}

TEST_CASE("guest acpi aml: a writer never writes past its buffer") {
    std::array<std::uint8_t, 64> storage{};
    storage.fill(0xcc);
    std::span<std::uint8_t> buf{storage.data(), 16};

    aml::Writer w{buf};
    auto sb = w.open_scope("\\_SB");
    w.name("_UID");
    w.integer(7);  // 1 + 5 + 5 + 2 = 13 bytes so far
    w.name("ABCD");  // 18: overflows
    w.close(sb);
    CHECK_FALSE(w.ok());
    CHECK(std::string(w.error().message).find("does not fit") != std::string::npos);
    for (std::size_t i = 16; i < storage.size(); ++i) CHECK(storage[i] == 0xcc);

    // Exactly full before the PkgLength is inserted: the insertion is what overflows.
    std::array<std::uint8_t, 32> storage2{};
    storage2.fill(0xcc);
    aml::Writer w2{std::span<std::uint8_t>{storage2.data(), 6}};
    auto sb2 = w2.open_scope("\\_SB");  // 6 bytes, no room for the PkgLength
    CHECK(w2.ok());
    w2.close(sb2);
    CHECK_FALSE(w2.ok());
    for (std::size_t i = 6; i < storage2.size(); ++i) CHECK(storage2[i] == 0xcc);

    // The first error is the one reported; later calls do nothing.
    std::array<std::uint8_t, 32> storage3{};
    aml::Writer w3{storage3};
    w3.name_string("1BAD");
    w3.string("ok");
    w3.integer(3);
    CHECK_FALSE(w3.ok());
    CHECK(std::string(w3.error().message).find("NameSeg") != std::string::npos);
    CHECK(w3.size() == 0);
}
