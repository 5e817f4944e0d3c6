// The lockstep link messages (issue 13; DESIGN §3a), carried as link messages of type `forward`
// (reliable, in order, authenticated with the link key like every other message):
//   client_input  primary -> backup: a frame that arrived on the primary's client NIC for the
//                 guest; both guests receive the same frames in the same order, the backup at
//                 the primary guest's TSC of injection (a determinism aid).
//   guest_output  backup -> primary: a frame the backup's guest sent, for the comparator
//                 (output_comparator.hpp); it never reaches a client.
//   generation_start  primary -> backup, no frame: the checkpoint of epoch G (G = the message's
//                 generation) starts generation G: once the backup committed it, its guest runs
//                 from it and receives generation G's client input (which may arrive before the
//                 checkpoint is complete: it waits).
// Each carries the comparison generation (a checkpoint starts a new one: frames of an older one
// are stale) and a sequence number per kind within the generation, consecutive from 0, so the
// receiver can tell a lost or reordered message from a late one.
//
//   offset size field (little-endian)
//        0    4 magic "TLS1"
//        4    1 kind: 1 client_input, 2 guest_output, 3 generation_start
//        5    1 reserved, 0
//        6    2 frame length: 14 (an Ethernet header) to 1518; generation_start: 0
//        8    8 generation
//       16    8 sequence
//       24    8 guest TSC (client_input: the primary's at injection; guest_output: the backup's at transmit)
//       32    n the frame
// Everything comes from the peer: the decoder checks every field and the exact size.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "hypervisor/util/result.hpp"

namespace tandem::lockstep {

enum class LockstepMessageKind : std::uint8_t { client_input = 1, guest_output = 2, generation_start = 3 };

struct [[gnu::packed]] LockstepMessageHeader {
    std::uint8_t magic[4];
    std::uint8_t kind;
    std::uint8_t reserved;
    std::uint16_t frame_length;
    std::uint64_t generation;
    std::uint64_t sequence;
    std::uint64_t guest_tsc;
};
static_assert(sizeof(LockstepMessageHeader) == 32);
static_assert(offsetof(LockstepMessageHeader, kind) == 4);
static_assert(offsetof(LockstepMessageHeader, frame_length) == 6);
static_assert(offsetof(LockstepMessageHeader, generation) == 8);
static_assert(offsetof(LockstepMessageHeader, sequence) == 16);
static_assert(offsetof(LockstepMessageHeader, guest_tsc) == 24);

inline constexpr std::size_t kLockstepHeaderSize = sizeof(LockstepMessageHeader);
inline constexpr std::size_t kLockstepMinFrame = 14;    // destination, source, EtherType
inline constexpr std::size_t kLockstepMaxFrame = 1518;  // VirtioMmioNet::kMaxFrame
inline constexpr std::size_t kLockstepMaxMessage = kLockstepHeaderSize + kLockstepMaxFrame;

struct LockstepMessage {
    LockstepMessageKind kind = LockstepMessageKind::client_input;
    std::uint64_t generation = 0;
    std::uint64_t sequence = 0;
    std::uint64_t guest_tsc = 0;
    std::span<const std::uint8_t> frame;  // decoded: a view into the message; empty for generation_start
};

// Writes the message into out; returns its size, or an error when the frame's length is out of
// range or out is too small (nothing written then).
Result<std::size_t> encode_lockstep_message(const LockstepMessage& message, std::span<std::uint8_t> out);
Result<LockstepMessage> decode_lockstep_message(std::span<const std::uint8_t> in);

// The receiver's order check for one kind: a generation's messages must arrive numbered 0, 1, 2,
// ...; an older generation's are stale (ignored); a newer generation starts over at 0.
class LockstepSequence {
public:
    enum class Verdict : std::uint8_t { in_order, stale, out_of_order };
    Verdict accept(std::uint64_t generation, std::uint64_t sequence);
    std::uint64_t generation() const { return generation_; }
    std::uint64_t next() const { return next_; }

private:
    std::uint64_t generation_ = 0;
    std::uint64_t next_ = 0;
};

}  // namespace tandem::lockstep
