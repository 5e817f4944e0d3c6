// libFuzzer: what the protected pair accepts from the networks besides link frames — the
// split-brain probe on the client network (parse_probe), the pair notice inside link messages
// (decode_pair_notice) and the lockstep messages (decode_lockstep_message). Properties: no crash
// or UB; a probe accepted under a key re-encodes to exactly the bytes it came from; a notice or
// a lockstep message accepted re-encodes exactly, its frame a view inside the input. The same
// bytes then reach the lockstep paths as the peer's `forward` message (lockstep_backup.hpp,
// lockstep_primary.hpp), kept across inputs so sequences build up: the backup's guest never gets
// more frames than client_input messages were accepted, its generation only moves forward, and
// the primary never counts more backup frames than messages it decoded.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "replication/engine/pair_notice.hpp"
#include "replication/link/client_probe.hpp"
#include "replication/lockstep/lockstep_backup.hpp"
#include "replication/lockstep/lockstep_message.hpp"
#include "replication/lockstep/lockstep_primary.hpp"

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
struct NullLink final : tandem::lockstep::ForwardLink {
    bool send_forward(std::span<const std::uint8_t>) override { return (++sent % 3) != 0; }  // full now and then
    unsigned sent = 0;
};
struct CountingGuest final : tandem::lockstep::GuestReceive {
    bool deliver(std::span<const std::uint8_t>) override { return ++frames % 5 != 0; }  // no buffer now and then
    std::uint64_t frames = 0;
};
struct NullNic final : tandem::virtio::NetBackend {
    bool transmit(std::span<const std::uint8_t>) override { return true; }
};
struct NullWriter final : tandem::Writer {
    void write(std::string_view) override {}
};
struct Clock final : tandem::link::Clock {
    std::uint64_t now_ns() override { return now += 1'000'000; }
    std::uint64_t now = 0;
};

// The lockstep paths, as one long-lived pair of endpoints.
struct Paths {
    NullLink link;
    CountingGuest guest;
    NullNic nic;
    NullWriter out;
    Clock clock;
    std::uint8_t held[tandem::lockstep::LockstepBackup::kStorageBytes]{};
    std::uint8_t queue[tandem::lockstep::LockstepPrimary::kQueueBytes]{};
    std::uint8_t compared[2 * 16 * tandem::lockstep::OutputComparator::kSlotSize]{};
    std::uint8_t committed[16 * tandem::engine::OutputCommitBuffer::kSlotSize]{};
    tandem::engine::OutputCommitBuffer commit{committed, nic};
    tandem::lockstep::LockstepBackup backup{held, guest, link};
    tandem::lockstep::LockstepPrimary primary{compared, queue, nic, commit, link, clock, {}, 20'000'000, out};
    std::uint64_t inputs_accepted = 0, decoded = 0;
    Paths() { primary.checkpoint_captured(1, tandem::lockstep::SyncReason::join); }
};

void drive_paths(std::span<const std::uint8_t> in, bool decodes) {
    static Paths* paths = new Paths;  // lives for the whole run, as a pair does
    Paths& p = *paths;
    std::uint64_t generation = p.backup.generation();
    auto m = tandem::lockstep::decode_lockstep_message(in);
    if (m && m->kind == tandem::lockstep::LockstepMessageKind::client_input) ++p.inputs_accepted;
    if (decodes) ++p.decoded;
    p.backup.on_message(in);
    if (auto start = p.backup.pending_start()) p.backup.generation_started(*start);
    if (p.backup.generation() < generation) std::abort();
    if (p.guest.frames > p.inputs_accepted) std::abort();
    p.primary.on_message(in);
    if (p.primary.stats().backup_messages > p.decoded) std::abort();
    (void)p.primary.poll();
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
    drive_paths(in, lockstep.ok());
    return 0;
}
