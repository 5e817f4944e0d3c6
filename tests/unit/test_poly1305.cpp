// Poly1305 (RFC 8439 §2.5, §2.6, Appendix A.3/A.4), incremental use, and libsodium agreement.
#include <sodium.h>

#include <algorithm>

#include <doctest/doctest.h>

#include "crypto_test_util.hpp"
#include "replication/crypto/chacha20.hpp"
#include "replication/crypto/poly1305.hpp"

using namespace tandem::crypto;
using test::ascii_bytes;
using test::ByteVec;
using test::hex_array;
using test::hex_bytes;

namespace {

const char* kIetfText =
    "Any submission to the IETF intended by the Contributor for publication as all or part of an IETF "
    "Internet-Draft or RFC and any statement made within the context of an IETF activity is considered an "
    "\"IETF Contribution\". Such statements include oral statements in IETF sessions, as well as written and "
    "electronic communications made at any time or place, which are addressed to";
const char* kJabberwocky =
    "'Twas brillig, and the slithy toves\nDid gyre and gimble in the wabe:\nAll mimsy were the borogoves,\n"
    "And the mome raths outgrabe.";

std::string mac_hex(const std::array<std::uint8_t, 32>& key, const ByteVec& message) {
    Tag tag{};
    poly1305_mac(key, message, tag);
    return test::to_hex(tag);
}

// §2.6: the one-time key is the first 32 bytes of ChaCha20 block 0.
ByteVec keygen(const Key& key, const Nonce& nonce) {
    ByteVec block(64);
    chacha20_block(key, 0, nonce, std::span<std::uint8_t, 64>(block.data(), 64));
    block.resize(32);
    return block;
}

}  // namespace

TEST_CASE("poly1305: RFC 8439 2.5.2 example") {
    auto key = hex_array<32>("85:d6:be:78:57:55:6d:33:7f:44:52:fe:42:d5:06:a8:01:03:80:8a:fb:0d:b2:fd:4a:bf:f6:af:41:49:f5:1b");
    CHECK(mac_hex(key, ascii_bytes("Cryptographic Forum Research Group")) == "a8061dc1305136c6c22b8baf0c0127a9");
}

TEST_CASE("poly1305: RFC 8439 A.3 vectors #1-#4") {
    ByteVec zeros(64, 0);
    CHECK(mac_hex(std::array<std::uint8_t, 32>{}, zeros) == "00000000000000000000000000000000");
    auto key2 = hex_array<32>("00000000000000000000000000000000 36 e5 f6 b5 c5 e0 60 70 f0 ef ca 96 22 7a 86 3e");
    CHECK(mac_hex(key2, ascii_bytes(kIetfText)) == "36e5f6b5c5e06070f0efca96227a863e");
    auto key3 = hex_array<32>("36 e5 f6 b5 c5 e0 60 70 f0 ef ca 96 22 7a 86 3e 00000000000000000000000000000000");
    CHECK(mac_hex(key3, ascii_bytes(kIetfText)) == "f3477e7cd95417af89a6b8794c310cf0");
    auto key4 = hex_array<32>("1c 92 40 a5 eb 55 d3 8a f3 33 88 86 04 f6 b5 f0 47 39 17 c1 40 2b 80 09 9d ca 5c bc 20 70 75 c0");
    CHECK(mac_hex(key4, ascii_bytes(kJabberwocky)) == "4541669a7eaaee61e708dc7cbcc5eb62");
}

TEST_CASE("poly1305: RFC 8439 A.3 vectors #5-#11 (reduction edge cases)") {
    struct Vector {
        const char* name;
        const char* r;
        const char* s;
        const char* data;
        const char* tag;
    };
    const char* zero = "00000000000000000000000000000000";
    const Vector vectors[] = {
        {"#5 partially reduced result not fully reduced", "02000000000000000000000000000000", zero,
         "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF", "03000000000000000000000000000000"},
        {"#6 addition of s overflows 2^128", "02000000000000000000000000000000", "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF",
         "02000000000000000000000000000000", "03000000000000000000000000000000"},
        {"#7 data limb all ones with carry", "01000000000000000000000000000000", zero,
         "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF F0FFFFFFFFFFFFFFFFFFFFFFFFFFFFFF 11000000000000000000000000000000",
         "05000000000000000000000000000000"},
        {"#8 result exactly 2^130-5", "01000000000000000000000000000000", zero,
         "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF FBFEFEFEFEFEFEFEFEFEFEFEFEFEFEFE 01010101010101010101010101010101",
         "00000000000000000000000000000000"},
        {"#9 result exactly 2^130-6", "02000000000000000000000000000000", zero, "FDFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF",
         "FAFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"},
        {"#10 5*H+L reduction: 131-bit intermediate", "01000000000000000400000000000000", zero,
         "E33594D7505E43B90000000000000000 3394D7505E4379CD0100000000000000 00000000000000000000000000000000 "
         "01000000000000000000000000000000",
         "14000000000000005500000000000000"},
        {"#11 5*H+L reduction: 131-bit final result", "01000000000000000400000000000000", zero,
         "E33594D7505E43B90000000000000000 3394D7505E4379CD0100000000000000 00000000000000000000000000000000",
         "13000000000000000000000000000000"},
    };
    for (const Vector& v : vectors) {
        CAPTURE(v.name);
        auto key = hex_array<32>(std::string(v.r) + v.s);
        CHECK(mac_hex(key, hex_bytes(v.data)) == test::to_hex(hex_bytes(v.tag)));
    }
}

TEST_CASE("poly1305: RFC 8439 2.6.2 and A.4 key generation with ChaCha20") {
    Key key = hex_array<32>("80 81 82 83 84 85 86 87 88 89 8a 8b 8c 8d 8e 8f 90 91 92 93 94 95 96 97 98 99 9a 9b 9c 9d 9e 9f");
    CHECK(keygen(key, hex_array<12>("00 00 00 00 00 01 02 03 04 05 06 07")) ==
          hex_bytes("8a d5 a0 8b 90 5f 81 cc 81 50 40 27 4a b2 94 71 a8 33 b6 37 e3 fd 0d a5 08 db b8 e2 fd d1 a6 46"));
    CHECK(keygen(Key{}, Nonce{}) ==
          hex_bytes("76 b8 e0 ad a0 f1 3d 90 40 5d 6a e5 53 86 bd 28 bd d2 19 b8 a0 8d ed 1a a8 36 ef cc 8b 77 0d c7"));
    CHECK(keygen(hex_array<32>("00000000000000000000000000000000 00000000000000000000000000000001"),
                 hex_array<12>("000000000000000000000002")) ==
          hex_bytes("ec fa 25 4f 84 5f 64 74 73 d3 cb 14 0d a9 e8 76 06 cb 33 06 6c 44 7b 87 bc 26 66 dd e3 fb b7 39"));
    CHECK(keygen(hex_array<32>("1c 92 40 a5 eb 55 d3 8a f3 33 88 86 04 f6 b5 f0 47 39 17 c1 40 2b 80 09 9d ca 5c bc 20 70 75 c0"),
                 hex_array<12>("000000000000000000000002")) ==
          hex_bytes("96 5e 3b c6 f9 ec 7e d9 56 08 08 f4 d2 29 f9 4b 13 7f f2 75 ca 9b 3f cb dd 59 de aa d2 33 10 ae"));
}

TEST_CASE("poly1305: incremental updates in any split equal the one-shot MAC and libsodium") {
    REQUIRE(sodium_init() >= 0);
    std::uint64_t seed = test::test_seed(0x90171305);
    MESSAGE("poly1305 cross-check seed ", seed, " (rerun with TANDEM_TEST_SEED=", seed, ")");
    std::mt19937_64 rng(seed);
    for (int i = 0; i < 400; ++i) {
        std::array<std::uint8_t, 32> key;
        test::fill_random(rng, key);
        ByteVec message(rng() % 2100);
        test::fill_random(rng, message);
        if (i % 7 == 0) std::fill(message.begin(), message.end(), 0xff);  // carries everywhere
        Tag one_shot{};
        poly1305_mac(key, message, one_shot);
        Tag pieces{};
        Poly1305 mac(key);
        std::size_t at = 0;
        while (at < message.size()) {
            std::size_t n = std::min<std::size_t>(rng() % 40, message.size() - at);
            mac.update(std::span<const std::uint8_t>(message).subspan(at, n));
            at += n;
        }
        mac.finish(pieces);
        Tag theirs{};
        crypto_onetimeauth_poly1305(theirs.data(), message.data(), message.size(), key.data());
        CAPTURE(i);
        CAPTURE(message.size());
        REQUIRE(one_shot == theirs);
        REQUIRE(pieces == theirs);
    }
}
