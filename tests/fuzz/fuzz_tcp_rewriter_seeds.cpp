// Writes the seed corpus of fuzz_tcp_rewriter: whole connections as the backup's rewriter sees
// them (client-opened and guest-opened handshakes, data, SACK, FIN, RST), each frame as one
// operation (fuzz_tcp_rewriter.cpp's layout: op, length - 14, the frame).
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "tests/unit/lockstep_frames.hpp"

namespace {

using lockstep_test::Segment;
using Frame = std::vector<std::uint8_t>;

struct Program {
    std::vector<std::uint8_t> bytes;
    void add(bool incoming, Segment s) {
        s.from_client = incoming;
        if (incoming) std::swap(s.source_port, s.destination_port);
        Frame f = lockstep_test::with_checksum(lockstep_test::tcp(s));
        if (f.size() < 14 || f.size() > 14 + 255) std::exit(1);
        bytes.push_back(incoming ? 1 : 0);
        bytes.push_back(static_cast<std::uint8_t>(f.size() - 14));
        bytes.insert(bytes.end(), f.begin(), f.end());
    }
};

void write(const std::string& path, const Program& p) {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (f == nullptr || std::fwrite(p.bytes.data(), 1, p.bytes.size(), f) != p.bytes.size()) {
        std::perror(path.c_str());
        std::exit(1);
    }
    std::fclose(f);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: fuzz_tcp_rewriter_seeds <directory>\n");
        return 2;
    }
    std::string dir = argv[1];
    constexpr std::uint32_t p = 0x10000000, b = 0xfffffff0, c = 0x50000000;
    Program client_opened;
    client_opened.add(true, {.seq = c, .ack = 0, .flags = 0x02});
    client_opened.add(false, {.seq = b, .ack = c + 1, .flags = 0x12});
    client_opened.add(true, {.seq = c + 1, .ack = p + 1, .flags = 0x10});
    client_opened.add(true, {.seq = c + 1, .ack = p + 1, .flags = 0x18, .payload = "GET / HTTP/1.1\r\n\r\n"});
    client_opened.add(false, {.seq = b + 1, .ack = c + 19, .flags = 0x18, .payload = "HTTP/1.1 200 OK\r\n"});
    client_opened.add(true, {.seq = c + 19, .ack = p + 1, .sack = {{p + 100, p + 200}, {p + 300, p + 400}}});
    client_opened.add(false, {.seq = b + 18, .ack = c + 19, .flags = 0x11});
    client_opened.add(true, {.seq = c + 19, .ack = p + 19, .flags = 0x11});
    write(dir + "/client-opened", client_opened);
    Program guest_opened;
    guest_opened.add(false, {.seq = b, .ack = 0, .flags = 0x02, .option_words = 3});
    guest_opened.add(true, {.seq = c, .ack = p + 1, .flags = 0x12, .option_words = 2});
    guest_opened.add(false, {.seq = b + 1, .ack = c + 1, .flags = 0x18, .payload = "query"});
    guest_opened.add(true, {.seq = c + 1, .ack = p + 6, .flags = 0x14});
    write(dir + "/guest-opened", guest_opened);
    return 0;
}
