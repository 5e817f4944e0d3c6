// Writes the frame-decoder fuzzer's seed corpus: genuine frames of every kind taken from a real
// handshake and transfer, wrapped in the three input modes (fuzz_frame_harness.hpp).
//   fuzz_frame_seeds OUTPUT_DIR
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_frame_harness.hpp"

namespace {

void write(const std::filesystem::path& path, std::uint8_t mode, const std::vector<std::uint8_t>& body) {
    std::ofstream out(path, std::ios::binary);
    out.put(static_cast<char>(mode));
    out.write(reinterpret_cast<const char*>(body.data()), static_cast<std::streamsize>(body.size()));
}

void record(std::vector<std::uint8_t>& r, std::uint8_t type, std::uint16_t seq, std::uint16_t msg, std::uint16_t ack,
            std::uint64_t bitmap, std::uint8_t length) {
    r.push_back(type);
    r.push_back(0);
    for (std::uint16_t v : {seq, msg, ack}) {
        r.push_back(static_cast<std::uint8_t>(v));
        r.push_back(static_cast<std::uint8_t>(v >> 8));
    }
    for (int i = 0; i < 8; ++i) r.push_back(static_cast<std::uint8_t>(bitmap >> (8 * i)));
    r.push_back(1);
    r.push_back(length);
    if (type < 0xfe) r.insert(r.end(), length, 0x42);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: fuzz_frame_seeds OUTPUT_DIR\n";
        return 2;
    }
    std::filesystem::path dir = argv[1];
    std::filesystem::create_directories(dir);
    auto pair = std::make_unique<fuzz::Pair>();
    // Capture a handshake and a few messages each way.
    std::vector<std::vector<std::uint8_t>> frames;
    pair->to_a.frames.clear();
    pair->to_b.frames.clear();
    if (!pair->bring_up()) {
        std::cerr << "fuzz_frame_seeds: the transports did not come up\n";
        return 1;
    }
    std::vector<std::uint8_t> payload(100, 0x61);
    for (int i = 0; i < 3; ++i) {
        (void)pair->a.send(tandem::link::FrameType::pages, 1, payload);
        (void)pair->b.send(tandem::link::FrameType::epoch_ack, 1, payload);
    }
    frames.insert(frames.end(), pair->to_b.frames.begin(), pair->to_b.frames.end());
    frames.insert(frames.end(), pair->to_a.frames.begin(), pair->to_a.frames.end());
    pair->pump();
    pair->clock.now += 10'000'000;
    pair->a.poll();
    frames.insert(frames.end(), pair->to_b.frames.begin(), pair->to_b.frames.end());
    // A HELLO as a fresh start would send it.
    fuzz::Queue hello_out;
    fuzz::Clock clock;
    fuzz::Sink sink;
    auto lone = std::make_unique<tandem::link::Transport>(hello_out, clock, sink);
    tandem::link::TransportConfig c;
    c.session_id = 7;
    c.guest_memory = 64ull << 20;
    (void)lone->start(c, fuzz::fuzz_secret());
    frames.insert(frames.end(), hello_out.frames.begin(), hello_out.frames.end());

    int n = 0;
    for (const auto& f : frames) {
        write(dir / ("decode_" + std::to_string(n)), 0, f);
        write(dir / ("transport_" + std::to_string(n)), 1, f);
        ++n;
    }
    std::vector<std::uint8_t> records;
    record(records, 15, 1, 1, 0, 0, 20);     // DATA msg 1
    record(records, 15, 2, 3, 0, 0, 20);     // DATA msg 3: a gap
    record(records, 15, 3, 2, 0, 0, 20);     // DATA msg 2 fills it
    record(records, 0xff, 0, 0, 0, 0, 50);   // the backup sends
    record(records, 8, 4, 0, 1, 0, 0);       // ACK of it
    record(records, 0xfe, 0, 0, 0, 0, 30);   // time passes
    record(records, 9, 5, 0, 0, 0x5, 0);     // NACK with a bitmap
    record(records, 10, 6, 0, 0, 0, 0);      // HEARTBEAT
    write(dir / "records", 2, records);
    return 0;
}
