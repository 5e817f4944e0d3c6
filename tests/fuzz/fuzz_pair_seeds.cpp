// Writes the seed corpus of fuzz_pair_messages: valid probe requests and replies under the
// fuzzer's key and insecurely checksummed, a pair notice, and lockstep messages of both kinds.
#include <cstdio>
#include <string>

#include "replication/engine/pair_notice.hpp"
#include "replication/link/client_probe.hpp"
#include "replication/lockstep/lockstep_message.hpp"

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: fuzz_pair_seeds <directory>\n");
        return 2;
    }
    std::string dir = argv[1];
    auto write = [&](const char* name, const std::uint8_t* bytes, std::size_t n) {
        std::FILE* f = std::fopen((dir + "/" + name).c_str(), "wb");
        if (f == nullptr || std::fwrite(bytes, 1, n, f) != n) {
            std::perror(name);
            std::exit(1);
        }
        std::fclose(f);
    };
    std::uint8_t key[32], none[32]{};
    for (int i = 0; i < 32; ++i) key[i] = static_cast<std::uint8_t>(0x40 + i * 7);
    auto keyed = *tandem::link::make_link_secret(true, key, false);
    auto insecure = *tandem::link::make_link_secret(false, none, true);
    tandem::MacAddress a{{2, 0, 0, 0, 0, 1}}, b{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
    tandem::link::Challenge c{};
    for (std::size_t i = 0; i < sizeof(c.bytes); ++i) c.bytes[i] = static_cast<std::uint8_t>(i * 31 + 5);
    std::uint8_t frame[tandem::link::kProbeFrameSize];
    tandem::link::build_probe(frame, b, a, tandem::link::ProbeKind::request, c, keyed);
    write("probe-request", frame, sizeof(frame));
    tandem::link::build_probe(frame, a, a, tandem::link::ProbeKind::reply, c, keyed);
    write("probe-reply", frame, sizeof(frame));
    tandem::link::build_probe(frame, b, a, tandem::link::ProbeKind::request, c, insecure);
    write("probe-insecure", frame, sizeof(frame));
    std::uint8_t notice[tandem::engine::kPairNoticeSize];
    tandem::engine::encode_pair_notice({tandem::engine::PairNoticeKind::protected_from, 42}, notice);
    write("notice", notice, sizeof(notice));
    tandem::engine::encode_pair_notice({tandem::engine::PairNoticeKind::hand_over, 41}, notice);
    write("notice-hand-over", notice, sizeof(notice));
    std::uint8_t ethernet[60]{};
    for (std::size_t i = 0; i < sizeof(ethernet); ++i) ethernet[i] = static_cast<std::uint8_t>(i * 13 + 1);
    std::uint8_t message[tandem::lockstep::kLockstepMaxMessage];
    namespace ls = tandem::lockstep;
    auto input = ls::encode_lockstep_message({ls::LockstepMessageKind::client_input, 4, 17, 123456789, ethernet}, message);
    if (!input) return 1;
    write("lockstep-input", message, *input);
    auto output = ls::encode_lockstep_message({ls::LockstepMessageKind::guest_output, 4, 0, 987654321, ethernet}, message);
    if (!output) return 1;
    write("lockstep-output", message, *output);
    return 0;
}
