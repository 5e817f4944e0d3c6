// Writes the checkpoint-decoder fuzzer's seed corpus: genuine epochs from the real encoder
// (zero, whole and delta pages, a CPU state with an XSAVE image, device states), one and several
// epochs per stream, each fed whole, in small and in large pieces (fuzz_checkpoint_harness.hpp).
//   fuzz_checkpoint_seeds OUTPUT_DIR
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "replication/checkpoint/encoder.hpp"
#include "tests/fuzz/fuzz_checkpoint_harness.hpp"

using namespace tandem::checkpoint;
using Bytes = std::vector<std::uint8_t>;

namespace {

constexpr std::uint64_t kPage = kPageSize;

class VectorSink final : public RecordSink {
public:
    tandem::Status write(std::span<const std::uint8_t> bytes) override {
        data.insert(data.end(), bytes.begin(), bytes.end());
        return tandem::success();
    }
    Bytes data;
};

// The guest (4 pages) and what the backup holds of it.
struct Primary {
    Bytes memory = Bytes(fuzz::kCheckpointRam, 0);
    Bytes reference = Bytes(fuzz::kCheckpointRam, 0);
    std::unique_ptr<CpuState> cpu = std::make_unique<CpuState>();

    bool epoch(VectorSink& sink, std::uint64_t number, const std::vector<std::uint64_t>& pages, std::uint8_t devices) {
        auto encoder = std::make_unique<EpochEncoder>(sink);
        if (!encoder->begin(number, fuzz::kCheckpointRam)) return false;
        for (std::uint64_t p : pages) {
            std::span<std::uint8_t> page(memory.data() + p * kPage, kPage), ref(reference.data() + p * kPage, kPage);
            if (!encoder->page(p * kPage, page, ref, true)) return false;
        }
        if (!encoder->cpu(*cpu)) return false;
        for (std::uint8_t d = 0; d < devices; ++d) {
            Bytes state(static_cast<std::size_t>(5 + 7 * d), static_cast<std::uint8_t>(0x30 + d));
            if (!encoder->device(d, 1, state)) return false;
        }
        return encoder->end().ok();
    }
};

void write(const std::filesystem::path& path, std::uint8_t chunking, std::uint8_t max_piece_log2, const Bytes& stream) {
    std::ofstream out(path, std::ios::binary);
    out.put(static_cast<char>(chunking));
    out.put(static_cast<char>(max_piece_log2));
    out.write(reinterpret_cast<const char*>(stream.data()), static_cast<std::streamsize>(stream.size()));
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: fuzz_checkpoint_seeds OUTPUT_DIR\n";
        return 2;
    }
    std::filesystem::path dir = argv[1];
    std::filesystem::create_directories(dir);
    Primary primary;
    std::uint32_t x = 12345;
    for (std::size_t i = kPage; i < 2 * kPage; ++i) primary.memory[i] = static_cast<std::uint8_t>(x = x * 1664525u + 1013904223u);
    primary.memory[2 * kPage + 100] = 7;  // page 2: nearly zero, a delta against the zero reference
    primary.memory[3 * kPage + 4095] = 9;
    (void)primary.cpu->set(0x681e, 0x7c00);
    (void)primary.cpu->set(0x10000, 0x1234);
    (void)primary.cpu->set(0x10101, 7);
    Bytes xsave(64, 0x5a);
    (void)primary.cpu->set_xsave(xsave);

    VectorSink one, many;
    bool ok = primary.epoch(one, 1, {0, 1, 2, 3}, 2);
    many.data = one.data;
    primary.memory[kPage + 10] ^= 0xff;  // epoch 2: a delta, a zero page, another device count
    primary.memory[3 * kPage + 4095] = 0;
    (void)primary.cpu->set(0x681e, 0x7c10);
    ok = ok && primary.epoch(many, 2, {1, 3}, 1);
    primary.memory[2 * kPage + 200] = 1;  // epoch 3: one page, no devices
    ok = ok && primary.epoch(many, 3, {2}, 0);
    if (!ok) {
        std::cerr << "fuzz_checkpoint_seeds: the encoder failed\n";
        return 1;
    }
    write(dir / "one_epoch_whole", 0, 0, one.data);
    write(dir / "one_epoch_small_pieces", 1, 3, one.data);
    write(dir / "three_epochs_whole", 0, 0, many.data);
    write(dir / "three_epochs_pieces", 77, 10, many.data);
    Bytes truncated(many.data.begin(), many.data.end() - 5);
    write(dir / "three_epochs_truncated", 3, 12, truncated);
    return 0;
}
