// The lockstep primary's data path (issue 13; DESIGN §1), between its guest, its client NIC and
// the link, portable so the host tests drive it:
//   client input  forward_input(): every frame for the guest goes to the link first (a
//                 client_input message of the current generation), then to this guest. Messages
//                 to the backup wait in order in a queue while the link's window is full (a
//                 checkpoint's pages fill it); one that finds the queue full still reaches this
//                 guest, and the guests now differ: a checkpoint follows (reason
//                 known_difference), nothing is lost. Queued input that never left cannot have
//                 released anything: its output needs the backup's match or a checkpoint.
//   guest output  transmit(): into the comparator; the backup's copies arrive as guest_output
//                 messages (on_message()). What matched leaves for the client at once; when a
//                 checkpoint was taken (checkpoint_captured()), what still waited leaves under
//                 output commit: the output-commit buffer holds it until the backup acknowledged
//                 that epoch, and a matched frame queues behind it, so a flow's order is kept.
//   degraded      (sync_policy.hpp) the guest's output goes to the output-commit buffer with the
//                 next epoch, as in checkpoint mode, uncompared; the backup's copies are ignored.
//                 A generation is compared or not from its start: the one after the hold is.
// The session asks poll() whether a checkpoint is due, captures it through the engine, calls
// checkpoint_captured(epoch), and backup_synced(epoch) once the backup acknowledged it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "hypervisor/console/writer.hpp"
#include "hypervisor/devices/virtio/virtio_net.hpp"
#include "replication/engine/output_commit.hpp"
#include "replication/link/link_interfaces.hpp"
#include "replication/lockstep/lockstep_message.hpp"
#include "replication/lockstep/output_comparator.hpp"
#include "replication/lockstep/sync_policy.hpp"

namespace tandem::lockstep {

// Sends one lockstep message over the link (a `forward` link message). False: the link's
// window is full, nothing was sent.
class ForwardLink {
public:
    virtual bool send_forward(std::span<const std::uint8_t> message) = 0;

protected:
    ~ForwardLink() = default;
};

struct LockstepPrimaryStats {
    std::uint64_t inputs_forwarded = 0, inputs_unforwarded = 0;
    std::uint64_t backup_messages = 0, backup_out_of_order = 0, backup_undecodable = 0, backup_unexpected = 0;
    std::uint64_t degraded_output = 0;  // frames released by checkpoint while degraded
    std::uint64_t unprotected_output = 0;  // frames passed on before a backup joined
    std::uint64_t queue_waits = 0;  // messages that waited for the link's window
};

class LockstepPrimary final : public virtio::NetBackend {
public:
    static constexpr std::size_t kQueuedMessages = 64;
    static constexpr std::size_t kQueueBytes = kQueuedMessages * kLockstepMaxMessage;

    // comparator_storage: OutputComparator's; queue_storage: kQueueBytes for messages waiting for
    // the link; client: the client NIC; commit: the output-commit buffer in front of the same
    // NIC, holding; clock: the link's; wait_ns: lockstep_wait_ms.
    LockstepPrimary(std::span<std::uint8_t> comparator_storage, std::span<std::uint8_t> queue_storage,
                    virtio::NetBackend& client,
                    engine::OutputCommitBuffer& commit, ForwardLink& link, link::Clock& clock,
                    const SyncPolicyConfig& policy, std::uint64_t wait_ns, Writer& out);

    // The guest's output (its virtio-net transmit). False: no room, the guest's queue waits.
    bool transmit(std::span<const std::uint8_t> frame) override;
    // A client frame for the guest, before the guest gets it. guest_tsc: the guest's TSC now.
    void forward_input(std::span<const std::uint8_t> frame, std::uint64_t guest_tsc);
    // A `forward` message from the backup.
    void on_message(std::span<const std::uint8_t> payload);

    // Sends what waits and judges: the reason a checkpoint is due now, or none.
    std::optional<SyncReason> poll();
    // The session captured `epoch` for `reason` (epochs only grow): a new generation, named by
    // it, starts; what waited leaves under output commit of that epoch; the backup is told.
    void checkpoint_captured(std::uint64_t epoch, SyncReason reason);
    // The backup acknowledged `epoch`: if it started the current generation, the backup's guest
    // runs from it now.
    void backup_synced(std::uint64_t epoch);
    // No backup any more: what waits leaves now, output passes uncompared until the next join.
    void backup_lost();

    bool comparing() const { return comparing_; }
    bool joined() const { return joined_; }
    std::uint64_t generation() const { return comparator_.generation(); }
    const OutputComparator& comparator() const { return comparator_; }
    const SyncPolicy& policy() const { return policy_; }
    const LockstepPrimaryStats& stats() const { return stats_; }
    // The figures (issue 13): output by how it was released, checkpoints by reason, the
    // comparison lag, client input forwarded and the backup's frames; three lines.
    void report(Writer& out) const;
    std::uint64_t frames_released() const;  // all told, however released
    std::size_t queued() const { return queue_count_; }  // messages waiting for the link

private:
    // Where the comparator's releases go: the client NIC, or behind what the output-commit
    // buffer holds (tagged with `epoch`).
    class Release final : public virtio::NetBackend {
    public:
        Release(virtio::NetBackend& client, engine::OutputCommitBuffer& commit) : client_(client), commit_(commit) {}
        bool transmit(std::span<const std::uint8_t> frame) override;
        std::uint64_t commit_epoch = 0;  // 0: releasable at once (behind what is held)

    private:
        virtio::NetBackend& client_;
        engine::OutputCommitBuffer& commit_;
    };

    // Queues the message behind those waiting and sends what the link takes; false: no room.
    bool send(LockstepMessageKind kind, std::span<const std::uint8_t> frame, std::uint64_t guest_tsc);
    void flush_queue();
    void say_change(SyncPolicy::Change change);

    Release release_;
    engine::OutputCommitBuffer& commit_;
    ForwardLink& link_;
    link::Clock& clock_;
    Writer& out_;
    OutputComparator comparator_;
    SyncPolicy policy_;
    LockstepSequence backup_order_;
    std::uint64_t input_sequence_ = 0;
    std::uint64_t next_epoch_ = 1;         // the epoch degraded output belongs to
    bool differ_ = false;                  // the guests differ for certain since the last checkpoint
    bool joined_ = false;                  // a backup runs its guest (since the join's checkpoint)
    bool comparing_ = false;               // this generation's output is compared (joined, not degraded)
    std::span<std::uint8_t> queue_storage_;
    std::uint16_t queue_length_[kQueuedMessages]{};
    std::size_t queue_head_ = 0, queue_count_ = 0;
    LockstepPrimaryStats stats_;
};

}  // namespace tandem::lockstep
