// The lockstep backup's data path (issue 13; DESIGN §1), between its guest and the link,
// portable so the host tests drive it. The backup's guest never sees its own client NIC:
//   client input  client_input messages from the primary, in the primary's order, delivered to
//                 this guest once it runs the message's generation (one of a generation whose
//                 checkpoint is still arriving waits here); the acknowledgement numbers and SACK
//                 blocks are moved into this guest's numbering (tcp_rewriter.hpp).
//   guest output  transmit(): moved into the primary's numbering and sent to the primary as a
//                 guest_output message, for its comparator. The link full: the guest's queue waits.
//   a checkpoint  generation_start(G) says the checkpoint of epoch G starts generation G: once the
//                 session committed that epoch and restored the guest from it, generation_started(G)
//                 delivers what waited; the rewriter starts over (the guests are one machine again).
//   takeover      promote(): the guest's output goes on, still rewritten, to the new primary's
//                 path, and the client's frames from its NIC pass rewrite_incoming() first: a
//                 connection opened since the checkpoint keeps the numbering its client knows.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "hypervisor/devices/virtio/virtio_net.hpp"
#include "replication/lockstep/lockstep_message.hpp"
#include "replication/lockstep/lockstep_primary.hpp"
#include "replication/lockstep/tcp_rewriter.hpp"

namespace tandem::lockstep {

// The guest's receive side (its virtio-net card's deliver()). False: the guest had no buffer.
class GuestReceive {
public:
    virtual bool deliver(std::span<const std::uint8_t> frame) = 0;

protected:
    ~GuestReceive() = default;
};

struct LockstepBackupStats {
    std::uint64_t inputs_delivered = 0, inputs_held = 0, inputs_stale = 0, inputs_out_of_order = 0;
    std::uint64_t inputs_no_room = 0;  // held input beyond kHeldInputs: the guests will differ
    std::uint64_t outputs_sent = 0, outputs_waited = 0, undecodable = 0, unexpected = 0;
    std::uint64_t generations = 0;
};

class LockstepBackup final : public virtio::NetBackend {
public:
    static constexpr std::size_t kHeldInputs = 64;
    static constexpr std::size_t kFrameRoom = kLockstepMaxFrame;
    static constexpr std::size_t kStorageBytes = kHeldInputs * kFrameRoom;

    // held_storage: kStorageBytes for client input waiting for its generation.
    LockstepBackup(std::span<std::uint8_t> held_storage, GuestReceive& guest, ForwardLink& link);

    // The guest's output.
    bool transmit(std::span<const std::uint8_t> frame) override;
    // A `forward` message from the primary.
    void on_message(std::span<const std::uint8_t> payload);
    // The latest generation the primary started: its checkpoint is the epoch to run from.
    std::optional<std::uint64_t> pending_start() const {
        return has_pending_ && (!running_ || pending_ > generation_) ? std::optional{pending_} : std::nullopt;
    }
    // The guest now runs from the checkpoint of epoch `generation`.
    void generation_started(std::uint64_t generation);
    // This machine took over: output to `next` (rewritten), input through rewrite_incoming().
    void promote(virtio::NetBackend& next) { client_ = &next; }
    void rewrite_incoming(std::span<std::uint8_t> frame) { (void)rewriter_.incoming(frame); }
    bool promoted() const { return client_ != nullptr; }

    bool running() const { return running_; }
    std::uint64_t generation() const { return generation_; }
    const LockstepBackupStats& stats() const { return stats_; }
    const TcpSequenceRewriter& rewriter() const { return rewriter_; }

private:
    struct Held {
        std::uint64_t generation = 0;
        std::uint16_t length = 0;
    };

    void on_input(const LockstepMessage& message);
    void hold(const LockstepMessage& message);
    void deliver(std::span<const std::uint8_t> frame);

    std::span<std::uint8_t> held_storage_;
    GuestReceive& guest_;
    ForwardLink& link_;
    virtio::NetBackend* client_ = nullptr;
    TcpSequenceRewriter rewriter_;
    LockstepSequence input_order_;
    Held held_[kHeldInputs]{};
    std::size_t held_head_ = 0, held_count_ = 0;
    bool running_ = false, has_pending_ = false;
    std::uint64_t generation_ = 0, pending_ = 0;
    std::uint64_t output_sequence_ = 0;
    std::uint8_t frame_[kFrameRoom]{};
    std::uint8_t message_[kLockstepMaxMessage]{};
    LockstepBackupStats stats_;
};

}  // namespace tandem::lockstep
