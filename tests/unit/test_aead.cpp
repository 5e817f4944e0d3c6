// AEAD_CHACHA20_POLY1305 (RFC 8439 §2.8, Appendix A.5): the RFC vectors, agreement with
// libsodium's crypto_aead_chacha20poly1305_ietf_* on random inputs, and rejection of every kind
// of tampering without releasing plaintext.
#include <sodium.h>

#include <algorithm>

#include <doctest/doctest.h>

#include "crypto_test_util.hpp"
#include "replication/crypto/aead.hpp"
#include "replication/crypto/constant_time.hpp"

using namespace tandem::crypto;
using test::ascii_bytes;
using test::ByteVec;
using test::hex_array;
using test::hex_bytes;

namespace {

const char* kSunscreen =
    "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";

struct Sealed {
    ByteVec ciphertext;
    Tag tag;
};

Sealed seal(const Key& key, const Nonce& nonce, const ByteVec& aad, const ByteVec& plaintext) {
    Sealed s{ByteVec(plaintext.size()), Tag{}};
    REQUIRE(aead_seal(key, nonce, aad, plaintext, s.ciphertext, s.tag).ok());
    return s;
}

}  // namespace

TEST_CASE("aead: RFC 8439 2.8.2 example") {
    Key key = hex_array<32>("80 81 82 83 84 85 86 87 88 89 8a 8b 8c 8d 8e 8f 90 91 92 93 94 95 96 97 98 99 9a 9b 9c 9d 9e 9f");
    // nonce = 32-bit fixed-common part (07 00 00 00) | IV (40..47)
    Nonce nonce = hex_array<12>("07 00 00 00 40 41 42 43 44 45 46 47");
    ByteVec aad = hex_bytes("50 51 52 53 c0 c1 c2 c3 c4 c5 c6 c7");
    ByteVec plaintext = ascii_bytes(kSunscreen);
    Sealed s = seal(key, nonce, aad, plaintext);
    CHECK(s.ciphertext ==
          hex_bytes("d3 1a 8d 34 64 8e 60 db 7b 86 af bc 53 ef 7e c2 a4 ad ed 51 29 6e 08 fe a9 e2 b5 a7 36 ee 62 d6"
                    "3d be a4 5e 8c a9 67 12 82 fa fb 69 da 92 72 8b 1a 71 de 0a 9e 06 0b 29 05 d6 a5 b6 7e cd 3b 36"
                    "92 dd bd 7f 2d 77 8b 8c 98 03 ae e3 28 09 1b 58 fa b3 24 e4 fa d6 75 94 55 85 80 8b 48 31 d7 bc"
                    "3f f4 de f0 8e 4b 7a 9d e5 76 d2 65 86 ce c6 4b 61 16"));
    CHECK(test::to_hex(s.tag) == "1ae10b594f09e26a7e902ecbd0600691");
    ByteVec opened(s.ciphertext.size());
    CHECK(aead_open(key, nonce, aad, s.ciphertext, s.tag, opened).ok());
    CHECK(opened == plaintext);
}

TEST_CASE("aead: RFC 8439 A.5 decryption") {
    Key key = hex_array<32>("1c 92 40 a5 eb 55 d3 8a f3 33 88 86 04 f6 b5 f0 47 39 17 c1 40 2b 80 09 9d ca 5c bc 20 70 75 c0");
    ByteVec ciphertext = hex_bytes(
        "64 a0 86 15 75 86 1a f4 60 f0 62 c7 9b e6 43 bd 5e 80 5c fd 34 5c f3 89 f1 08 67 0a c7 6c 8c b2"
        "4c 6c fc 18 75 5d 43 ee a0 9e e9 4e 38 2d 26 b0 bd b7 b7 3c 32 1b 01 00 d4 f0 3b 7f 35 58 94 cf"
        "33 2f 83 0e 71 0b 97 ce 98 c8 a8 4a bd 0b 94 81 14 ad 17 6e 00 8d 33 bd 60 f9 82 b1 ff 37 c8 55"
        "97 97 a0 6e f4 f0 ef 61 c1 86 32 4e 2b 35 06 38 36 06 90 7b 6a 7c 02 b0 f9 f6 15 7b 53 c8 67 e4"
        "b9 16 6c 76 7b 80 4d 46 a5 9b 52 16 cd e7 a4 e9 90 40 c5 a4 04 33 22 5e e2 82 a1 b0 a0 6c 52 3e"
        "af 45 34 d7 f8 3f a1 15 5b 00 47 71 8c bc 54 6a 0d 07 2b 04 b3 56 4e ea 1b 42 22 73 f5 48 27 1a"
        "0b b2 31 60 53 fa 76 99 19 55 eb d6 31 59 43 4e ce bb 4e 46 6d ae 5a 10 73 a6 72 76 27 09 7a 10"
        "49 e6 17 d9 1d 36 10 94 fa 68 f0 ff 77 98 71 30 30 5b ea ba 2e da 04 df 99 7b 71 4d 6c 6f 2c 29"
        "a6 ad 5c b4 02 2b 02 70 9b");
    Nonce nonce = hex_array<12>("00 00 00 00 01 02 03 04 05 06 07 08");
    ByteVec aad = hex_bytes("f3 33 88 86 00 00 00 00 00 00 4e 91");
    Tag tag = hex_array<16>("ee ad 9d 67 89 0c bb 22 39 23 36 fe a1 85 1f 38");
    ByteVec plaintext(ciphertext.size());
    REQUIRE(aead_open(key, nonce, aad, ciphertext, tag, plaintext).ok());
    ByteVec expected = hex_bytes(
        "49 6e 74 65 72 6e 65 74 2d 44 72 61 66 74 73 20 61 72 65 20 64 72 61 66 74 20 64 6f 63 75 6d 65"
        "6e 74 73 20 76 61 6c 69 64 20 66 6f 72 20 61 20 6d 61 78 69 6d 75 6d 20 6f 66 20 73 69 78 20 6d"
        "6f 6e 74 68 73 20 61 6e 64 20 6d 61 79 20 62 65 20 75 70 64 61 74 65 64 2c 20 72 65 70 6c 61 63"
        "65 64 2c 20 6f 72 20 6f 62 73 6f 6c 65 74 65 64 20 62 79 20 6f 74 68 65 72 20 64 6f 63 75 6d 65"
        "6e 74 73 20 61 74 20 61 6e 79 20 74 69 6d 65 2e 20 49 74 20 69 73 20 69 6e 61 70 70 72 6f 70 72"
        "69 61 74 65 20 74 6f 20 75 73 65 20 49 6e 74 65 72 6e 65 74 2d 44 72 61 66 74 73 20 61 73 20 72"
        "65 66 65 72 65 6e 63 65 20 6d 61 74 65 72 69 61 6c 20 6f 72 20 74 6f 20 63 69 74 65 20 74 68 65"
        "6d 20 6f 74 68 65 72 20 74 68 61 6e 20 61 73 20 2f e2 80 9c 77 6f 72 6b 20 69 6e 20 70 72 6f 67"
        "72 65 73 73 2e 2f e2 80 9d");
    CHECK(plaintext == expected);
    // And sealing the plaintext gives back the received ciphertext and tag.
    Sealed s = seal(key, nonce, aad, expected);
    CHECK(s.ciphertext == ciphertext);
    CHECK(s.tag == tag);
}

TEST_CASE("aead: agrees with libsodium for random keys, nonces, AAD and lengths 0..2000") {
    REQUIRE(sodium_init() >= 0);
    std::uint64_t seed = test::test_seed(0xaead2026);
    MESSAGE("aead cross-check seed ", seed, " (rerun with TANDEM_TEST_SEED=", seed, ")");
    std::mt19937_64 rng(seed);
    for (int i = 0; i < 500; ++i) {
        Key key;
        Nonce nonce;
        test::fill_random(rng, key);
        test::fill_random(rng, nonce);
        std::size_t length = i < 70 ? static_cast<std::size_t>(i) : rng() % 2001;  // every small length
        ByteVec aad(rng() % 3 == 0 ? 0 : rng() % 100);
        ByteVec plaintext(length);
        test::fill_random(rng, aad);
        test::fill_random(rng, plaintext);
        CAPTURE(i);
        CAPTURE(length);
        CAPTURE(aad.size());
        Sealed ours = seal(key, nonce, aad, plaintext);
        ByteVec theirs(length + crypto_aead_chacha20poly1305_ietf_ABYTES);
        unsigned long long theirs_size = 0;
        crypto_aead_chacha20poly1305_ietf_encrypt(theirs.data(), &theirs_size, plaintext.data(), length, aad.data(),
                                                  aad.size(), nullptr, nonce.data(), key.data());
        REQUIRE(theirs_size == length + 16);
        REQUIRE(ByteVec(theirs.begin(), theirs.begin() + static_cast<std::ptrdiff_t>(length)) == ours.ciphertext);
        REQUIRE(ByteVec(theirs.begin() + static_cast<std::ptrdiff_t>(length), theirs.end()) ==
                ByteVec(ours.tag.begin(), ours.tag.end()));
        // libsodium opens ours, we open libsodium's.
        ByteVec sodium_plain(length + 1);
        unsigned long long sodium_plain_size = 0;
        REQUIRE(crypto_aead_chacha20poly1305_ietf_decrypt(sodium_plain.data(), &sodium_plain_size, nullptr, theirs.data(),
                                                          theirs.size(), aad.data(), aad.size(), nonce.data(),
                                                          key.data()) == 0);
        ByteVec opened(length);
        REQUIRE(aead_open(key, nonce, aad, ours.ciphertext, ours.tag, opened).ok());
        REQUIRE(opened == plaintext);
    }
}

TEST_CASE("aead: tampered ciphertext, tag, AAD, nonce or key is rejected and releases no plaintext") {
    std::uint64_t seed = test::test_seed(0x7a3be7);
    MESSAGE("aead tamper seed ", seed);
    std::mt19937_64 rng(seed);
    for (int i = 0; i < 100; ++i) {
        Key key;
        Nonce nonce;
        test::fill_random(rng, key);
        test::fill_random(rng, nonce);
        ByteVec aad(1 + rng() % 40), plaintext(1 + rng() % 600);
        test::fill_random(rng, aad);
        test::fill_random(rng, plaintext);
        Sealed s = seal(key, nonce, aad, plaintext);
        CAPTURE(i);
        auto flip = [&rng](std::span<std::uint8_t> b) { b[rng() % b.size()] ^= static_cast<std::uint8_t>(1u << (rng() % 8)); };
        auto rejected = [&](const Key& k, const Nonce& n, const ByteVec& a, const ByteVec& c, const Tag& t) {
            ByteVec out(c.size(), 0xa5);
            bool failed = !aead_open(k, n, a, c, t, out).ok();
            bool zeroed = std::all_of(out.begin(), out.end(), [](std::uint8_t b) { return b == 0; });
            return failed && zeroed;
        };
        ByteVec c = s.ciphertext;
        flip(c);
        CHECK(rejected(key, nonce, aad, c, s.tag));
        Tag t = s.tag;
        flip(t);
        CHECK(rejected(key, nonce, aad, s.ciphertext, t));
        ByteVec a = aad;
        flip(a);
        CHECK(rejected(key, nonce, a, s.ciphertext, s.tag));
        ByteVec longer = aad;
        longer.push_back(0);  // AAD length is authenticated too
        CHECK(rejected(key, nonce, longer, s.ciphertext, s.tag));
        Nonce n = nonce;
        flip(n);
        CHECK(rejected(key, n, aad, s.ciphertext, s.tag));
        Key k = key;
        flip(k);
        CHECK(rejected(k, nonce, aad, s.ciphertext, s.tag));
        ByteVec shorter(s.ciphertext.begin(), s.ciphertext.end() - 1);
        CHECK(rejected(key, nonce, aad, shorter, s.tag));
    }
}

TEST_CASE("aead: in place, size and overlap checks, constant-time compare") {
    Key key{};
    key[0] = 1;
    Nonce nonce{};
    ByteVec aad = ascii_bytes("header");
    ByteVec data = ascii_bytes("in place message that spans more than one sixty-four byte ChaCha20 block, to be sure");
    ByteVec original = data;
    Tag tag{};
    REQUIRE(aead_seal(key, nonce, aad, data, data, tag).ok());
    CHECK(data != original);
    // A failed in-place open leaves the ciphertext as it was.
    ByteVec ciphertext = data;
    Tag bad = tag;
    bad[15] ^= 0x80;
    CHECK_FALSE(aead_open(key, nonce, aad, data, bad, data).ok());
    CHECK(data == ciphertext);
    REQUIRE(aead_open(key, nonce, aad, data, tag, data).ok());
    CHECK(data == original);
    CHECK(aead_verify(key, nonce, aad, ciphertext, tag));

    ByteVec small(original.size() - 1);
    CHECK_FALSE(aead_seal(key, nonce, aad, original, small, tag).ok());
    std::span<std::uint8_t> whole(data);
    CHECK_FALSE(aead_seal(key, nonce, aad, whole.first(20), whole.subspan(5, 20), tag).ok());

    ByteVec x = ascii_bytes("abcdef"), y = ascii_bytes("abcdef"), z = ascii_bytes("abcdeg");
    CHECK(equal_constant_time(x, y));
    CHECK_FALSE(equal_constant_time(x, z));
    CHECK_FALSE(equal_constant_time(x, ByteVec(x.begin(), x.end() - 1)));
    CHECK(equal_constant_time(ByteVec{}, ByteVec{}));
}
