// The primary's side of checkpointing (DESIGN §3): at each epoch boundary, with the guest paused,
// harvest the dirty set, capture CPU and device state, and either copy the dirty pages aside
// (capture=copy, the reference path) or write-protect them (capture=cow, copy-on-write: a page is
// copied only if the guest writes it before it has been encoded); then, while the guest runs
// again, encode the epoch into the sink a slice at a time.
#pragma once

#include <cstdint>

#include "hypervisor/console/writer.hpp"
#include "hypervisor/vm/guest_memory.hpp"
#include "replication/checkpoint/backup_image.hpp"
#include "replication/checkpoint/encoder.hpp"
#include "replication/dirty/dirty_tracker.hpp"
#include "replication/engine/keepalive.hpp"
#include "replication/engine/state_source.hpp"

namespace tandem::engine {

enum class CaptureMode : std::uint8_t { copy, cow };

struct EpochStats {
    std::uint64_t epoch = 0;
    std::uint64_t dirty_pages = 0;
    std::uint64_t pause_ticks = 0;       // guest stopped to capture the epoch (harvest, state, copy/protect)
    std::uint64_t backlog_ticks = 0;     // guest stopped before that, finishing the previous transfer
    std::uint64_t cow_copies = 0;        // pages copied because the guest wrote them early
    std::uint64_t bytes = 0;             // checkpoint stream bytes for the epoch
    std::uint64_t pages_full = 0, pages_delta = 0, pages_zero = 0;
};

// Memory the engine works in, all of guest size and allocated by the caller.
struct EngineMemory {
    GuestMemory& guest;      // the primary's RAM
    GuestMemory& reference;  // what the peer holds for each page (for deltas)
    GuestMemory& staging;    // page slots for copies
    std::span<std::uint32_t> slot_of_page;  // one per guest page
    dirty::DirtyBitmap& sending;            // the pages of the epoch being encoded
};

class CheckpointEngine final : public GuestWriteObserver {
public:
    CheckpointEngine(const EngineMemory& memory, dirty::DirtyTracker& tracker, dirty::EptDirtyControl& ept,
                     StateSource& state, checkpoint::EpochEncoder& encoder, const TickClock& clock, CaptureMode mode,
                     bool deltas)
        : m_(memory), tracker_(tracker), ept_(ept), state_(state), encoder_(encoder), clock_(clock), mode_(mode),
          deltas_(deltas) {}

    // Epoch 0: every page is in the first checkpoint, encoded against nothing (the reference
    // need not be cleared); tracking starts. Copy-on-write even with capture=copy.
    Status start();
    // An epoch boundary (the guest is paused): completes the previous epoch's transfer if it is
    // still going, then captures the next epoch. stats() describes it afterwards.
    Status epoch_boundary();
    // Encodes up to max_pages pages of the current epoch; finishes the epoch (CPU, devices,
    // EPOCH_END) when all pages are out.
    Status transfer(std::uint64_t max_pages);
    bool transferring() const { return transferring_; }
    // The peer is gone: drops the epoch being transferred (pages copy-on-write protected for it
    // become writable, page slots free). start() begins again with a full epoch for a new peer.
    void abandon();
    // A guest write hit a write-protected page of guest RAM (only checkpointing protects RAM).
    // The page is writable again afterwards; false if gpa is outside guest RAM.
    bool on_write_fault(std::uint64_t gpa);
    // The hypervisor is about to write guest RAM (a device model): copy-on-write and dirty
    // tracking as if the guest wrote it (set as the guest memory's write observer).
    void before_write(std::uint64_t gpa, std::uint64_t length) override;

    // Long copies (capture=copy of a large dirty set, a transfer completed at a boundary) call it
    // every few pages (keepalive.hpp).
    void set_keepalive(Keepalive* keepalive) { keepalive_ = keepalive; }

    // The epoch being captured or transferred.
    const EpochStats& stats() const { return stats_; }
    // The last epoch whose EPOCH_END went out.
    const EpochStats& completed_stats() const { return completed_stats_; }
    std::uint64_t epochs_started() const { return next_epoch_; }
    // Pages below this guest page number are encoded (the epoch being transferred).
    std::uint64_t cursor() const { return cursor_; }
    std::uint64_t last_completed_epoch() const { return completed_epoch_; }
    bool has_completed() const { return has_completed_; }
    // The digest of the captured CPU state of the epoch being (or last) transferred.
    std::uint64_t captured_state_digest() const;

private:
    Status capture(bool everything);
    Status copy_page_to_slot(std::uint64_t page);
    Status finish_epoch();

    EngineMemory m_;
    dirty::DirtyTracker& tracker_;
    dirty::EptDirtyControl& ept_;
    StateSource& state_;
    checkpoint::EpochEncoder& encoder_;
    const TickClock& clock_;
    CaptureMode mode_;
    bool deltas_;

    bool transferring_ = false;
    bool full_epoch_ = false;  // the epoch being sent is the first, whole one
    bool cow_epoch_ = false;   // its pages are copied on write (capture=cow, or the first epoch)
    std::uint64_t cursor_ = 0;          // pages below this are encoded
    std::uint32_t slots_used_ = 0;
    std::uint64_t next_epoch_ = 0;
    std::uint64_t completed_epoch_ = 0;
    bool has_completed_ = false;
    EpochStats stats_{};
    EpochStats completed_stats_{};
    checkpoint::CpuState cpu_;
    checkpoint::DeviceStateBlob devices_[checkpoint::BackupImage::kMaxDevices];
    std::size_t device_count_ = 0;
    Keepalive* keepalive_ = nullptr;
    std::uint8_t page_[checkpoint::kPageSize]{};
    std::uint8_t reference_page_[checkpoint::kPageSize]{};
};

inline constexpr std::uint32_t kNoSlot = ~0u;

}  // namespace tandem::engine
