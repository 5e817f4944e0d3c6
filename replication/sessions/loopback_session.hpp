// Checkpointing to a backup image on the same machine (mode=checkpoint peer=local): every epoch
// is captured by the checkpoint engine, encoded, decoded and applied to a second copy of the
// guest exactly as a peer would, so the whole replication engine runs — and can be checked —
// on one machine. failover_at= stops the primary at an epoch and resumes the guest from the
// backup's last committed epoch. restore_every= restores the running guest from the backup image
// every N epochs (CPU, devices, the epoch's pages), so a guest that keeps running proves that
// what the backup holds is a state it can go on from, many times over.
#pragma once

#include <optional>

#include "replication/checkpoint/backup_image.hpp"
#include "replication/checkpoint/decoder.hpp"
#include "replication/checkpoint/encoder.hpp"
#include "replication/dirty/dirty_tracker.hpp"
#include "replication/engine/checkpoint_engine.hpp"
#include "replication/sessions/session.hpp"
#include "replication/sessions/session_machine.hpp"

namespace tandem::sessions {

class LoopbackSession final : public Session,
                              public GuestEvents,
                              public engine::StateSource,
                              public engine::TickClock,
                              public checkpoint::RecordSink {
public:
    // Each 1 ms timer slice spends at most this share of its time encoding the epoch being sent.
    static constexpr std::uint64_t kSliceSharePercent = 30;
    static constexpr std::size_t kHistory = 4096;
    static_assert(DeviceSet::kMaxDevices <= checkpoint::BackupImage::kMaxDevices);

    explicit LoopbackSession(SessionMachine& machine) : machine_(machine), out_(machine.out()) {}

    // The guest, then the reference copy, staging areas and the backup image; epoch 0 starts.
    Status start() override;
    Next poll() override { return ran_ ? Next::finished : Next::run_guest; }
    // The guest ended: a last checkpoint, a last verification, the summary.
    void guest_ended(const GuestEnd& end) override;
    // The console's failover command: at the next timer tick, as failover_at= would.
    void request_failover() { failover_requested_ = true; }
    bool active() const { return active_; }
    void status(Writer& out) const;
    void status_json(Writer& out) const;

    void on_timer() override;
    bool on_ram_write_fault(std::uint64_t gpa) override;
    void on_pml_full() override;

    Status capture_cpu(checkpoint::CpuState& out) override { return machine_.capture_cpu(out); }
    std::size_t device_count() const override { return devices().size(); }
    StatefulDevice& device(std::size_t index) override { return machine_.guest_machine().devices().at(index); }
    std::uint64_t now() const override { return machine_.now(); }
    Status write(std::span<const std::uint8_t> bytes) override { return decoder_->feed(bytes); }

private:
    struct PendingVerify {
        bool armed = false;
        std::uint64_t epoch = 0, memory = 0, state = 0;
    };
    struct Settings {
        std::uint32_t epoch_ms = 0;
        std::uint32_t verify_every = 0;
        std::uint64_t failover_at = 0;    // 0: never
        std::uint32_t restore_every = 0;  // 0: never
        bool epoch_report = false;
    };

    const DeviceSet& devices() const { return machine_.guest_machine().devices(); }
    Status allocate(engine::CaptureMode capture, DirtyTracking method);
    void register_commands();
    void finish();
    void after_transfer();
    void arm_verify();
    void failover();
    void restore_from_backup();
    void fail(const char* what, const Error& e);
    void report();
    void report_verification(std::uint64_t committed, std::uint64_t memory, std::uint64_t state);

    SessionMachine& machine_;
    Writer& out_;
    Settings config_{};
    bool ran_ = false;
    bool active_ = false;
    bool failover_requested_ = false;
    std::uint64_t epoch_ticks_ = 0;
    std::uint64_t next_epoch_at_ = 0;
    std::uint64_t committed_seen_ = 0;
    bool committed_any_ = false;
    bool failed_over_ = false;  // the guest resumed from the local backup (status --json)
    std::uint64_t failed_over_at_ = 0, failover_epoch_ = 0;
    PendingVerify verify_;
    std::uint64_t verifications_ = 0, verification_failures_ = 0;
    std::uint64_t restores_ = 0;
    std::uint8_t page_[checkpoint::kPageSize]{};  // restore_every: one page on its way back

    engine::EpochStats history_[kHistory];
    std::size_t history_count_ = 0;

    // Everything below lives in frames from the machine's memory (set up by start()).
    GuestMemory reference_{machine_.memory().window()}, staging_{machine_.memory().window()};
    GuestMemory backup_memory_{machine_.memory().window()}, backup_staging_{machine_.memory().window()};
    dirty::DirtyBitmap current_, sending_;
    std::span<std::uint64_t> primary_page_digests_, backup_page_digests_;  // for reporting differences
    std::optional<dirty::DirtyTracker> tracker_;
    std::optional<checkpoint::EpochEncoder> encoder_;
    std::optional<checkpoint::BackupImage> backup_;
    std::optional<checkpoint::StreamDecoder> decoder_;
    std::optional<engine::CheckpointEngine> engine_;
};

}  // namespace tandem::sessions
