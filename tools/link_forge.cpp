// link-forge: prints, in hex, one replication-link frame as an attacker on the link without the
// key can make it — a handshake frame with only the public checksum — for the e2e test that
// injects such frames into a running pair (tests/e2e/test_pair_bochs.py, class Forgery).
// Everything it needs is public: MAC addresses, session ids and parameters are visible in the
// peers' own frames. Built from the same frame code as the image.
//   link-forge [-n COUNT] hello SRC DST SESSION ROLE GUEST_MEMORY KEY_ID [VERSION]
//   link-forge [-n COUNT] refusal SRC DST SESSION ECHO_SESSION
// With -n, COUNT frames, one per line, with sessions SESSION, SESSION + 1, ...
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "replication/link/frame_seal.hpp"
#include "replication/link/hello.hpp"

namespace {

namespace tl = tandem::link;

bool parse_mac(const char* text, tandem::MacAddress& out) {
    unsigned b[6];
    if (std::sscanf(text, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) != 6) return false;
    for (int i = 0; i < 6; ++i) {
        if (b[i] > 0xff) return false;
        out.bytes[i] = static_cast<std::uint8_t>(b[i]);
    }
    return true;
}

std::uint64_t number(const char* text) { return std::strtoull(text, nullptr, 0); }

int usage() {
    std::fprintf(stderr, "usage: link-forge [-n COUNT] hello SRC DST SESSION ROLE GUEST_MEMORY KEY_ID [VERSION]\n"
                         "       link-forge [-n COUNT] refusal SRC DST SESSION ECHO_SESSION\n");
    return 2;
}

int print_frame(tl::FrameHeader h, const tandem::MacAddress& src, const tandem::MacAddress& dst,
                std::span<const std::uint8_t> payload) {
    std::vector<std::uint8_t> out(tl::kMaxFrameSize);
    h.seq = 1;
    auto size = tl::seal_frame(out, tl::EthernetHeader{dst, src, tl::kEtherType}, h, payload, nullptr);
    if (!size) return 1;
    for (std::size_t i = 0; i < *size; ++i) std::printf("%02x", out[i]);
    std::printf("\n");
    return 0;
}

}  // namespace

int forge_one(int argc, char** argv, std::uint64_t session_offset) {
    const std::string kind = argv[1];
    tandem::MacAddress src{}, dst{};
    if (!parse_mac(argv[2], src) || !parse_mac(argv[3], dst)) return usage();
    tl::FrameHeader h;
    h.session = number(argv[4]) + session_offset;
    if (kind == "hello" && (argc == 8 || argc == 9)) {
        tl::HandshakeParams p;
        p.role = std::string(argv[5]) == "primary" ? tandem::Role::primary : tandem::Role::backup;
        p.guest_memory = number(argv[6]);
        p.key_id = number(argv[7]);
        h.type = tl::FrameType::hello;
        if (argc == 9) h.version = static_cast<std::uint8_t>(number(argv[8]));
        std::uint8_t payload[tl::kHelloPayloadSize];
        tl::encode_hello(p, payload);
        return print_frame(h, src, dst, payload);
    }
    if (kind == "refusal" && argc == 6) {
        tl::HelloAck ack{tl::HandshakeField::role, number(argv[5]), 1, 1};
        h.type = tl::FrameType::hello_ack;
        std::uint8_t payload[tl::kHelloAckPayloadSize];
        tl::encode_hello_ack(ack, payload);
        return print_frame(h, src, dst, payload);
    }
    return usage();
}

int main(int argc, char** argv) {
    std::uint64_t count = 1;
    if (argc > 2 && std::string(argv[1]) == "-n") {
        count = number(argv[2]);
        argc -= 2;
        argv += 2;
    }
    if (argc < 5 || count == 0) return usage();
    for (std::uint64_t i = 0; i < count; ++i) {
        if (int rc = forge_one(argc, argv, i); rc != 0) return rc;
    }
    return 0;
}
