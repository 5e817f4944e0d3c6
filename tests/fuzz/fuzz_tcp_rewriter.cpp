// libFuzzer: the lockstep backup's TCP sequence rewriter (replication/lockstep/tcp_rewriter.hpp)
// over frames from both sides: the guest's (outgoing) and the client's (incoming), raw bytes with
// whatever headers and options they carry, interleaved with checkpoints. Checked, beyond
// ASan/UBSan: a frame never changes length; outside its TCP header nothing changes; a
// well-formed TCP frame whose checksum was right still has a right checksum after a rewrite; a
// frame that is not TCP is never touched; the table never holds more than its size.
// Input: operations of u8 (bit 0: direction, bit 1: checkpoint first, bit 2: fix the checksum),
// u8 length, then that many frame bytes (fuzz::Input: zeros past the end).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "replication/lockstep/output_frame.hpp"
#include "replication/lockstep/tcp_rewriter.hpp"
#include "tests/fuzz/fuzz_input.hpp"
#include "tests/unit/lockstep_frames.hpp"

namespace {

using tandem::lockstep::FrameKind;
using tandem::lockstep::Rewrite;

[[noreturn]] void fail(int line = __builtin_LINE()) {
    std::fprintf(stderr, "%s:%d: check failed\n", __FILE__, line);
    __builtin_trap();
}
void check(bool ok, int line = __builtin_LINE()) {
    if (!ok) fail(line);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static auto* rewriter = new tandem::lockstep::TcpSequenceRewriter;  // big: not on the stack
    rewriter->reset();
    fuzz::Input in(data, size);
    while (!in.empty()) {
        std::uint8_t op = in.u8();
        auto raw = in.bytes(in.u8() + 14u);
        std::vector<std::uint8_t> frame(raw.begin(), raw.end());
        if (op & 2) rewriter->reset();
        auto parsed = tandem::lockstep::classify_output_frame(frame);
        bool tcp = parsed.kind == FrameKind::tcp;
        if (tcp && (op & 4)) frame = lockstep_test::with_checksum(std::move(frame));
        bool checksum_right = tcp && lockstep_test::tcp_checksum(frame) ==
                                         (frame[parsed.transport_offset + 16] << 8 | frame[parsed.transport_offset + 17]);
        const std::vector<std::uint8_t> before = frame;
        Rewrite r = (op & 1) ? rewriter->incoming(frame) : rewriter->outgoing(frame);
        check(frame.size() == before.size());
        if (!tcp) check(r == Rewrite::unchanged && frame == before);
        if (r != Rewrite::rewritten) check(frame == before);
        if (tcp) {
            for (std::size_t i = 0; i < frame.size(); ++i) {
                bool in_header = i >= parsed.transport_offset && i < parsed.payload_offset;
                if (!in_header) check(frame[i] == before[i]);
            }
            if (checksum_right) {
                check(lockstep_test::tcp_checksum(frame) ==
                      (frame[parsed.transport_offset + 16] << 8 | frame[parsed.transport_offset + 17]));
            }
        }
        check(rewriter->connections() <= tandem::lockstep::TcpSequenceRewriter::kMaxConnections);
    }
    return 0;
}
