// Checkpoint encoder throughput on this host (replication/checkpoint/encoder.hpp): MB/s of guest
// page data going in, for whole random pages (with and without the delta attempt), pages with a
// few changed bytes (deltas), and zero pages, against plain memcpy of the same bytes measured in
// the same run. The encoder is built with the image's code generation (scalar, no SSE), as in
// tandem; memcpy is the host C library's. Figures, never pass/fail.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "replication/checkpoint/encoder.hpp"

using namespace tandem::checkpoint;

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kPages = 256;  // one epoch of 1 MiB of dirty pages
constexpr std::size_t kBytes = kPages * kPageSize;

std::string cpu_model() {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
    }
    return "unknown CPU";
}

// Counts what the encoder emits (the wire or the loopback decoder would take it from here).
class CountingSink final : public RecordSink {
public:
    tandem::Status write(std::span<const std::uint8_t> data) override {
        bytes += data.size();
        return tandem::success();
    }
    std::uint64_t bytes = 0;
};

// Runs `op` (which handles kBytes of page data) until at least `min_seconds` passed; MB/s.
template <class Op>
double throughput(double min_seconds, Op op) {
    std::uint64_t calls = 0, batch = 1;
    auto start = Clock::now();
    double elapsed = 0;
    while (elapsed < min_seconds) {
        for (std::uint64_t i = 0; i < batch; ++i) op(calls + i);
        calls += batch;
        batch *= 2;
        elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    }
    return static_cast<double>(kBytes) * static_cast<double>(calls) / elapsed / 1e6;
}

struct Case {
    const char* name;
    std::vector<std::uint8_t> a, b;  // the pages alternate between these two contents
    bool deltas;
};

}  // namespace

int main(int argc, char** argv) {
    double seconds = argc > 1 ? std::stod(argv[1]) : 0.3;
    std::mt19937_64 rng(42);
    auto random_bytes = [&](std::size_t n) {
        std::vector<std::uint8_t> v(n);
        for (auto& x : v) x = static_cast<std::uint8_t>(rng());
        return v;
    };
    std::vector<Case> cases;
    cases.push_back({"whole random pages", random_bytes(kBytes), random_bytes(kBytes), true});
    cases.push_back({"whole random pages, deltas off", cases[0].a, cases[0].b, false});
    std::vector<std::uint8_t> sparse = cases[0].a;
    for (std::size_t p = 0; p < kPages; ++p) {
        for (int k = 0; k < 16; ++k) sparse[p * kPageSize + rng() % kPageSize] ^= 0x5a;  // 16 bytes per page
    }
    cases.push_back({"16 changed bytes per page", cases[0].a, sparse, true});
    cases.push_back({"zero pages", std::vector<std::uint8_t>(kBytes, 0), std::vector<std::uint8_t>(kBytes, 0), true});

    std::printf("tandem checkpoint encoder benchmark: MB/s = 10^6 bytes of guest page data in per second, one core\n");
    std::printf("host: %s\n", cpu_model().c_str());
    std::printf("encoder: EpochEncoder over %zu dirty 4 KiB pages per epoch into a counting sink, built -O2 scalar "
                "(-mno-sse) as in the image; memcpy: host libc, same bytes, same run\n",
                kPages);
    std::printf("reproduce with: build/tests/bench/encoder_bench [seconds per figure, default 0.3]  (build: cmake -S . "
                "-B build -G Ninja && ninja -C build encoder_bench)\n\n");

    std::vector<std::uint8_t> dst(kBytes);
    double memcpy_mbs = throughput(seconds, [&](std::uint64_t i) {
        const auto& src = i % 2 ? cases[0].a : cases[0].b;
        std::memcpy(dst.data(), src.data(), kBytes);
        asm volatile("" : : "r"(dst.data()) : "memory");
    });
    std::printf("%-34s %10s %10s %16s\n", "case", "MB/s", "/ memcpy", "wire bytes/page");
    std::printf("%-34s %10.1f %9.3fx %16s\n", "memcpy (the same bytes)", memcpy_mbs, 1.0, "-");

    for (Case& c : cases) {
        CountingSink sink;
        auto encoder = std::make_unique<EpochEncoder>(sink);
        auto cpu = std::make_unique<CpuState>();
        std::vector<std::uint8_t> reference = c.a;
        std::uint64_t epochs = 0, wire = 0;
        double mbs = throughput(seconds, [&](std::uint64_t i) {
            // Odd epochs send the b contents against the a reference, even ones the reverse, so
            // every page differs from the copy last sent exactly as the case says.
            std::vector<std::uint8_t>& pages = i % 2 == 0 ? c.b : c.a;
            std::uint64_t before = sink.bytes;
            if (!encoder->begin(i, kBytes)) std::abort();
            for (std::size_t p = 0; p < kPages; ++p) {
                std::span<const std::uint8_t> page(pages.data() + p * kPageSize, kPageSize);
                std::span<std::uint8_t> ref(reference.data() + p * kPageSize, kPageSize);
                if (!encoder->page(p * kPageSize, page, ref, c.deltas)) std::abort();
            }
            if (!encoder->cpu(*cpu) || !encoder->end()) std::abort();
            ++epochs;
            wire += sink.bytes - before;
        });
        double per_page = static_cast<double>(wire) / static_cast<double>(epochs * kPages);
        std::printf("%-34s %10.1f %9.3fx %16.1f\n", c.name, mbs, mbs / memcpy_mbs, per_page);
    }
    std::printf("\nwire bytes/page include the record headers and the epoch's EPOCH_BEGIN/CPU_STATE/EPOCH_END share.\n");
    return 0;
}
