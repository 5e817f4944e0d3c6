#include "replication/lockstep/lockstep_message.hpp"

#include "hypervisor/util/bytes.hpp"

namespace tandem::lockstep {
namespace {

constexpr std::uint8_t kMagic[4] = {'T', 'L', 'S', '1'};

bool known_kind(std::uint8_t kind) {
    return kind == static_cast<std::uint8_t>(LockstepMessageKind::client_input) ||
           kind == static_cast<std::uint8_t>(LockstepMessageKind::guest_output) ||
           kind == static_cast<std::uint8_t>(LockstepMessageKind::generation_start);
}

// A frame's length fits its kind: a generation's start carries none, the others an Ethernet frame.
bool length_fits(std::uint8_t kind, std::size_t n) {
    if (kind == static_cast<std::uint8_t>(LockstepMessageKind::generation_start)) return n == 0;
    return n >= kLockstepMinFrame && n <= kLockstepMaxFrame;
}

}  // namespace

Result<std::size_t> encode_lockstep_message(const LockstepMessage& message, std::span<std::uint8_t> out) {
    std::size_t n = message.frame.size();
    auto kind = static_cast<std::uint8_t>(message.kind);
    if (!known_kind(kind)) return Error::of("lockstep: unknown message kind");
    if (!length_fits(kind, n)) return Error::of("lockstep: frame length out of range", n);
    if (out.size() < kLockstepHeaderSize + n) return Error::of("lockstep: no room for the message", kLockstepHeaderSize + n);
    for (std::size_t i = 0; i < 4; ++i) out[i] = kMagic[i];
    out[4] = static_cast<std::uint8_t>(message.kind);
    out[5] = 0;
    store_le(out, 6, static_cast<std::uint16_t>(n));
    store_le(out, 8, message.generation);
    store_le(out, 16, message.sequence);
    store_le(out, 24, message.guest_tsc);
    for (std::size_t i = 0; i < n; ++i) out[kLockstepHeaderSize + i] = message.frame[i];
    return kLockstepHeaderSize + n;
}

Result<LockstepMessage> decode_lockstep_message(std::span<const std::uint8_t> in) {
    if (in.size() < kLockstepHeaderSize) return Error::of("lockstep: message shorter than its header", in.size());
    for (std::size_t i = 0; i < 4; ++i) {
        if (in[i] != kMagic[i]) return Error::of("lockstep: message with a bad magic");
    }
    if (!known_kind(in[4])) return Error::of("lockstep: unknown message kind", in[4]);
    if (in[5] != 0) return Error::of("lockstep: reserved byte set", in[5]);
    std::size_t n = load_le<std::uint16_t>(in, 6);
    if (!length_fits(in[4], n)) return Error::of("lockstep: frame length out of range", n);
    if (in.size() != kLockstepHeaderSize + n) {
        return Error::of("lockstep: message size does not match its frame length", in.size());
    }
    LockstepMessage m;
    m.kind = static_cast<LockstepMessageKind>(in[4]);
    m.generation = load_le<std::uint64_t>(in, 8);
    m.sequence = load_le<std::uint64_t>(in, 16);
    m.guest_tsc = load_le<std::uint64_t>(in, 24);
    m.frame = in.subspan(kLockstepHeaderSize, n);
    return m;
}

LockstepSequence::Verdict LockstepSequence::accept(std::uint64_t generation, std::uint64_t sequence) {
    if (generation < generation_) return Verdict::stale;
    if (generation > generation_) {
        generation_ = generation;
        next_ = 0;
    }
    if (sequence != next_) return Verdict::out_of_order;
    ++next_;
    return Verdict::in_order;
}

}  // namespace tandem::lockstep
