// AEAD throughput on this host: tandem's ChaCha20-Poly1305 (built with the image's flags: scalar,
// -mno-sse) against Debian's libsodium (which picks SSSE3/AVX2 code at run time), for the frame
// sizes of the replication link. Figures, never pass/fail.
#include <sodium.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "replication/crypto/aead.hpp"

namespace {

using Clock = std::chrono::steady_clock;

std::string cpu_model() {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
    }
    return "unknown CPU";
}

// Runs `op` until at least `min_seconds` passed; returns MB/s (10^6 bytes) of `bytes` per call.
template <class Op>
double throughput(std::size_t bytes, double min_seconds, Op op) {
    std::uint64_t calls = 0;
    auto start = Clock::now();
    double elapsed = 0;
    std::uint64_t batch = 1;
    while (elapsed < min_seconds) {
        for (std::uint64_t i = 0; i < batch; ++i) op();
        calls += batch;
        batch *= 2;
        elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    }
    return static_cast<double>(bytes) * static_cast<double>(calls) / elapsed / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
    double seconds = argc > 1 ? std::stod(argv[1]) : 0.5;
    if (sodium_init() < 0) {
        std::fprintf(stderr, "aead_bench: libsodium failed to initialise\n");
        return 1;
    }
    std::printf("tandem AEAD benchmark: ChaCha20-Poly1305 (RFC 8439), MB/s = 10^6 bytes of payload per second, "
                "one core\n");
    std::printf("host: %s; libsodium %s\n", cpu_model().c_str(), sodium_version_string());
    std::printf("reproduce: cmake -S . -B build -G Ninja && ninja -C build aead_bench && build/tests/bench/aead_bench "
                "[seconds per figure, default 0.5]\n");
    std::printf("AAD: 70 bytes (Ethernet + frame header, as on the link); tandem built scalar (-mno-sse) as in the "
                "image\n\n");
    std::printf("%8s  %14s  %14s  %14s  %14s  %8s\n", "payload", "tandem seal", "libsodium seal", "tandem open",
                "libsodium open", "ratio");
    tandem::crypto::Key key{};
    tandem::crypto::Nonce nonce{};
    for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<std::uint8_t>(i * 13 + 1);
    std::vector<std::uint8_t> aad(70, 0x5a);
    for (std::size_t size : {std::size_t{64}, std::size_t{1428}, std::size_t{1500}, std::size_t{8928}, std::size_t{9000}}) {
        std::vector<std::uint8_t> plain(size, 0xa5), cipher(size), opened(size);
        std::vector<std::uint8_t> sodium_cipher(size + 16), sodium_plain(size);
        tandem::crypto::Tag tag{};
        std::uint64_t counter = 0;
        auto bump = [&] {  // a new nonce per message, as on the link
            ++counter;
            for (int b = 0; b < 8; ++b) nonce[4 + static_cast<std::size_t>(b)] = static_cast<std::uint8_t>(counter >> (8 * b));
        };
        double ours_seal = throughput(size, seconds, [&] {
            bump();
            (void)tandem::crypto::aead_seal(key, nonce, aad, plain, cipher, tag);
        });
        double theirs_seal = throughput(size, seconds, [&] {
            bump();
            unsigned long long n = 0;
            crypto_aead_chacha20poly1305_ietf_encrypt(sodium_cipher.data(), &n, plain.data(), size, aad.data(),
                                                      aad.size(), nullptr, nonce.data(), key.data());
        });
        // Open a valid message (the common case: verify, then decrypt).
        (void)tandem::crypto::aead_seal(key, nonce, aad, plain, cipher, tag);
        unsigned long long n = 0;
        crypto_aead_chacha20poly1305_ietf_encrypt(sodium_cipher.data(), &n, plain.data(), size, aad.data(), aad.size(),
                                                  nullptr, nonce.data(), key.data());
        double ours_open = throughput(size, seconds, [&] {
            if (!tandem::crypto::aead_open(key, nonce, aad, cipher, tag, opened)) std::abort();
        });
        double theirs_open = throughput(size, seconds, [&] {
            unsigned long long m = 0;
            if (crypto_aead_chacha20poly1305_ietf_decrypt(sodium_plain.data(), &m, nullptr, sodium_cipher.data(),
                                                          sodium_cipher.size(), aad.data(), aad.size(), nonce.data(),
                                                          key.data()) != 0) {
                std::abort();
            }
        });
        std::printf("%6zu B  %9.1f MB/s  %9.1f MB/s  %9.1f MB/s  %9.1f MB/s  %7.2fx\n", size, ours_seal, theirs_seal,
                    ours_open, theirs_open, ours_seal / theirs_seal);
    }
    std::printf("\nratio = tandem seal / libsodium seal. 1428 and 8928 B are the largest link payloads at MTU 1500 "
                "and 9000.\n");
    return 0;
}
