// libFuzzer: what the protected pair accepts from the networks besides link frames — the
// split-brain probe on the client network (parse_probe), the pair notice inside link messages
// (decode_pair_notice) and the lockstep messages (decode_lockstep_message). Properties: no crash
// or UB; a probe accepted under a key re-encodes to exactly the bytes it came from; a notice or
// a lockstep message accepted re-encodes exactly, its frame a view inside the input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "replication/engine/pair_notice.hpp"
#include "replication/link/client_probe.hpp"
#include "replication/lockstep/lockstep_message.hpp"

namespace {
tandem::link::LinkSecret keyed() {
    std::uint8_t key[32];
    for (int i = 0; i < 32; ++i) key[i] = static_cast<std::uint8_t>(0x40 + i * 7);
    return *tandem::link::make_link_secret(true, key, false);
}
tandem::link::LinkSecret insecure() {
    std::uint8_t none[32]{};
    return *tandem::link::make_link_secret(false, none, true);
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const tandem::link::LinkSecret secrets[2] = {keyed(), insecure()};
    std::span<const std::uint8_t> in{data, size};
    for (const auto& secret : secrets) {
        tandem::link::ProbeParse p = tandem::link::parse_probe(in, secret);
        if (p.valid) {
            tandem::MacAddress dst{};
            std::memcpy(dst.bytes, data, 6);
            std::uint8_t again[tandem::link::kProbeFrameSize];
            tandem::link::build_probe(again, dst, p.frame.source, p.frame.kind, p.frame.challenge, secret);
            if (std::memcmp(again, data, sizeof(again)) != 0) std::abort();
        } else if (p.is_probe && p.problem == nullptr) {
            std::abort();  // every refusal says why
        }
    }
    auto notice = tandem::engine::decode_pair_notice(in);
    if (notice) {
        std::uint8_t again[tandem::engine::kPairNoticeSize];
        tandem::engine::encode_pair_notice(*notice, again);
        if (std::memcmp(again, data, sizeof(again)) != 0) std::abort();
    }
    auto lockstep = tandem::lockstep::decode_lockstep_message(in);
    if (lockstep) {
        if (lockstep->frame.data() != data + tandem::lockstep::kLockstepHeaderSize) std::abort();
        static std::uint8_t again[tandem::lockstep::kLockstepMaxMessage];
        auto n = tandem::lockstep::encode_lockstep_message(*lockstep, again);
        if (!n || *n != size || std::memcmp(again, data, size) != 0) std::abort();
    }
    return 0;
}
