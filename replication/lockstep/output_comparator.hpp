// Lockstep output comparison (issue 13; DESIGN §1): both guests run from the same state on the
// same input, the primary's frames wait here until the backup's guest produced the same output,
// and leave for the client as soon as it did. Per flow (output_frame.hpp):
//   TCP   byte ranges compared at equal sequence numbers, whatever the segmentation; FIN and RST
//         must agree; a SYN matches the backup's SYN by its flags and payload, not its number (a
//         connection opened since the checkpoint starts from each guest's own ISN; the backup
//         rewrites the rest into the primary's numbering, tcp_rewriter.hpp); an acknowledgement
//         alone leaves once the backup acknowledged as much;
//         a retransmission of bytes already released leaves at once ("early", COLO++).
//   UDP, ICMP  payloads compared in order.
//   anything else  released from the primary uncompared; the backup's copy is ignored.
// A difference, a frame left unmatched longer than the wait bound, or no room (for a frame or a
// flow) is a divergence: the caller forces a checkpoint and then calls start_generation(), which
// releases every frame still waiting (the caller's `out` holds them under output commit until
// the backup acknowledged that checkpoint) and forgets the backup's frames; those the backup
// still sends from the old generation are ignored. The new generation's frames wait without the
// bound until backup_synced(): the backup's guest cannot answer them before it holds the
// checkpoint, and counting that time would make every checkpoint cause the next. Frames are never dropped: a full queue
// refuses the primary's frame (its transmit queue waits) and is itself a divergence.
// Released frames go to `out` in the order the primary sent them within each flow; a NIC that
// refuses keeps them here for the next poll(). Fixed storage from the caller, no allocation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "hypervisor/devices/virtio/virtio_net.hpp"
#include "replication/lockstep/output_frame.hpp"

namespace tandem::lockstep {

enum class Divergence : std::uint8_t { none, mismatch, timeout, queue_full };
inline constexpr std::size_t kDivergenceKinds = 4;
const char* divergence_name(Divergence divergence);

struct ComparatorStats {
    std::uint64_t released_matched = 0, released_early = 0, released_uncompared = 0, released_committed = 0;
    std::uint64_t backup_frames = 0, backup_stale = 0, backup_late = 0, backup_acks = 0;
    std::uint64_t divergences[kDivergenceKinds]{};  // by Divergence, [none] unused
    // Comparison lag: from the primary's frame arriving to its release by a match; and by powers
    // of two: bucket i counts lags below 2^i microseconds (the last, everything longer).
    std::uint64_t lag_count = 0, lag_sum_ns = 0, lag_max_ns = 0;
    static constexpr std::size_t kLagBuckets = 24;
    std::uint64_t lag_buckets[kLagBuckets]{};
    // The lag under which `percent` of the matched frames were released, in microseconds (a
    // bucket's upper bound, 0 before any match).
    std::uint64_t lag_percentile_us(unsigned percent) const;
};

class OutputComparator {
public:
    static constexpr std::size_t kSlotSize = virtio::VirtioMmioNet::kMaxFrame;
    static constexpr std::size_t kMaxSlots = 256;  // per side
    static constexpr std::size_t kMaxFlows = 128;

    // storage: 2 * slots * kSlotSize bytes (half for each guest's frames); out: where released
    // frames go; wait_ns: how long a frame may stay unmatched (lockstep_wait_ms).
    OutputComparator(std::span<std::uint8_t> storage, virtio::NetBackend& out, std::uint64_t wait_ns);

    // A frame the primary's guest sent. False: no room; the guest's queue waits (a divergence).
    bool primary_output(std::span<const std::uint8_t> frame, std::uint64_t now_ns);
    // A frame the backup's guest sent in `generation`, forwarded over the link.
    void backup_output(std::span<const std::uint8_t> frame, std::uint64_t generation, std::uint64_t now_ns);
    // Sends what the NIC refused before and applies the wait bound. Returns divergence().
    Divergence poll(std::uint64_t now_ns);
    // The first divergence since the generation began (none: the guests agree so far).
    Divergence divergence() const { return divergence_; }
    // A checkpoint was taken: what waits is released (under output commit, by the caller's out),
    // the backup's frames are forgotten, a new generation starts. `generation` names it (the
    // checkpoint's epoch), greater than the last; an older or equal one is refused (false).
    bool start_generation(std::uint64_t generation);
    // The backup is gone: what waits leaves (through `out`), the backup's frames are forgotten;
    // the generation stays (the next starts above it).
    void release_waiting();
    // The backup runs from the checkpoint that started this generation: the wait bound counts
    // from now for what waited before.
    void backup_synced(std::uint64_t now_ns);
    bool synced() const { return synced_; }
    std::uint64_t generation() const { return generation_; }

    std::size_t primary_waiting() const;  // unmatched primary frames
    std::size_t backup_waiting() const;   // backup frames not yet compared
    const ComparatorStats& stats() const { return stats_; }

private:
    enum class State : std::uint8_t { free, held, ready };
    enum class Verdict : std::uint8_t { waiting, matched, early, mismatch };
    static constexpr std::uint16_t kNoFlow = 0xffff;
    static constexpr std::size_t kNoSlot = ~std::size_t{0};

    struct Slot {
        OutputFrame frame;
        std::uint64_t arrival_ns = 0;
        std::uint16_t length = 0;
        std::uint16_t flow = kNoFlow;
        State state = State::free;
    };
    struct Ring {
        Slot slots[kMaxSlots];
        std::size_t head = 0, count = 0, capacity = 0;
        std::span<std::uint8_t> storage;
        std::size_t at(std::size_t i) const { return (head + i) % capacity; }
        std::span<const std::uint8_t> payload(std::size_t index) const;
        std::span<const std::uint8_t> bytes(std::size_t index) const;
        std::size_t push(std::span<const std::uint8_t> frame, const OutputFrame& parsed, std::uint16_t flow,
                         std::uint64_t now_ns, State state);
        void trim();  // drops free slots at the head
    };
    struct Flow {
        FlowKey key{};
        bool used = false;
        bool has_released = false, has_backup_ack = false;
        bool syn_matched = false;       // the handshake's SYN matched: the backup's repeats are late
        std::uint32_t released_to = 0;  // sequence space released by a match
        std::uint32_t backup_ack = 0;   // the highest acknowledgement the backup sent
    };

    std::uint16_t flow_of(const OutputFrame& frame);
    void match(std::uint16_t flow, std::uint64_t now_ns);
    Verdict evaluate_tcp(const Slot& slot, std::size_t index, const Flow& flow, std::size_t& backup_index) const;
    Verdict evaluate_syn(std::size_t index, std::uint16_t flow, std::size_t& backup_index) const;
    Verdict compare_ranges(const Slot& slot, std::size_t index, std::uint16_t flow) const;
    Verdict evaluate_datagram(std::size_t index, std::uint16_t flow, std::size_t& backup_index) const;
    void make_ready(Slot& slot, Verdict why, std::uint64_t now_ns);
    void drop_released_backup(std::uint16_t flow);
    void flush();
    void diverge(Divergence why);

    virtio::NetBackend& out_;
    std::uint64_t wait_ns_;
    Ring primary_, backup_;
    Flow flows_[kMaxFlows];
    std::uint64_t generation_ = 0;
    bool synced_ = true;
    std::uint64_t synced_ns_ = 0;
    Divergence divergence_ = Divergence::none;
    ComparatorStats stats_;
};

}  // namespace tandem::lockstep
