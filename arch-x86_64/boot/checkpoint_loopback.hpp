// Checkpointing to a backup image on the same machine (mode=checkpoint peer=local): every epoch
// is captured by the checkpoint engine, encoded, decoded and applied to a second copy of the
// guest exactly as a peer would, so the whole replication engine runs — and can be checked —
// on one machine. failover_at= stops the primary at an epoch and resumes the guest from the
// backup's last committed epoch. restore_every= restores the running guest from the backup image
// every N epochs (CPU, devices, the epoch's pages), so a guest that keeps running proves that
// what the backup holds is a state it can go on from, many times over.
#pragma once

#include "arch-x86_64/vmx/virtual_machine.hpp"
#include "hypervisor/config/config.hpp"
#include "hypervisor/devices/device_state.hpp"
#include "replication/checkpoint/backup_image.hpp"
#include "replication/checkpoint/decoder.hpp"
#include "replication/checkpoint/encoder.hpp"
#include "replication/dirty/dirty_tracker.hpp"
#include "replication/engine/checkpoint_engine.hpp"

namespace tandem::x86 {

struct LoopbackConfig {
    std::uint32_t epoch_ms;
    engine::CaptureMode capture;
    DirtyTracking dirty;  // resolved: pml, ad_bits or write_protect
    std::uint32_t verify_every;
    std::uint64_t failover_at;  // 0: never
    std::uint32_t restore_every;  // 0: never
    bool epoch_report;
    std::uint64_t tsc_khz;
};

class LoopbackSession final : public VcpuHooks,
                              public engine::StateSource,
                              public engine::TickClock,
                              public checkpoint::RecordSink {
public:
    // Each 1 ms timer slice spends at most this share of its time encoding the epoch being sent.
    static constexpr std::uint64_t kSliceSharePercent = 30;
    static constexpr std::size_t kHistory = 4096;

    // The UART, virtio-net and the PC platform's five models; as many as an epoch carries.
    static constexpr std::size_t kMaxDevices = 8;
    static_assert(kMaxDevices <= checkpoint::BackupImage::kMaxDevices);

    LoopbackSession(VirtualMachine& vm, GuestMemory& primary, Writer& out) : vm_(vm), primary_(primary), out_(out) {}
    // Device models whose state goes into every checkpoint (call before start()). One too many
    // is an error: a model left out would silently not be checkpointed.
    Status add_device(StatefulDevice& device) {
        if (device_count_ == kMaxDevices) {
            return Error::of("checkpoint: too many devices to checkpoint (a tandem bug)", device.state_id());
        }
        devices_[device_count_++] = &device;
        return success();
    }
    // Models that access guest RAM themselves: pointed at the backup image on failover.
    Status add_memory_user(GuestMemoryUser& user) {
        if (memory_user_count_ == kMaxDevices) return Error::of("checkpoint: too many guest-memory users (a tandem bug)");
        memory_users_[memory_user_count_++] = &user;
        return success();
    }

    // Allocates the reference copy, staging areas and the backup image, then starts epoch 0.
    Status start(const LoopbackConfig& config, FrameAllocator& frames);
    // The guest ended: a last checkpoint, a last verification, the summary.
    void finish();
    // The console's failover command: at the next timer tick, as failover_at= would.
    void request_failover() { failover_requested_ = true; }
    bool active() const { return active_; }
    void status(Writer& out) const;

    void on_timer(Vcpu& vcpu) override;
    bool on_ram_write_fault(Vcpu& vcpu, std::uint64_t gpa) override;
    void on_pml_full(Vcpu& vcpu) override;

    Status capture_cpu(checkpoint::CpuState& out) override;
    std::size_t device_count() const override { return device_count_; }
    StatefulDevice& device(std::size_t index) override { return *devices_[index]; }
    std::uint64_t now() const override;
    Status write(std::span<const std::uint8_t> bytes) override;

private:
    struct PendingVerify {
        bool armed = false;
        std::uint64_t epoch = 0, memory = 0, state = 0;
    };
    void after_transfer();
    void arm_verify();
    void failover();
    void restore_from_backup();
    Status restore_devices();
    void fail(const char* what, const Error& e);
    void report();

    VirtualMachine& vm_;
    GuestMemory& primary_;
    StatefulDevice* devices_[kMaxDevices]{};
    std::size_t device_count_ = 0;
    GuestMemoryUser* memory_users_[kMaxDevices]{};
    std::size_t memory_user_count_ = 0;
    Writer& out_;
    LoopbackConfig config_{};
    bool active_ = false;
    bool failover_requested_ = false;
    std::uint64_t epoch_ticks_ = 0;
    std::uint64_t next_epoch_at_ = 0;
    std::uint64_t committed_seen_ = 0;
    bool committed_any_ = false;
    PendingVerify verify_;
    std::uint64_t verifications_ = 0, verification_failures_ = 0;
    std::uint64_t restores_ = 0;
    std::uint8_t page_[checkpoint::kPageSize]{};  // restore_every: one page on its way back

    engine::EpochStats history_[kHistory];
    std::size_t history_count_ = 0;

    // Everything below lives in frames from the allocator (set up by start()).
    GuestMemory* reference_ = nullptr;
    GuestMemory* staging_ = nullptr;
    GuestMemory* backup_memory_ = nullptr;
    GuestMemory* backup_staging_ = nullptr;
    dirty::DirtyBitmap current_, sending_;
    std::span<std::uint64_t> primary_page_digests_, backup_page_digests_;  // for reporting differences
    dirty::DirtyTracker* tracker_ = nullptr;
    checkpoint::EpochEncoder* encoder_ = nullptr;
    checkpoint::BackupImage* backup_ = nullptr;
    checkpoint::StreamDecoder* decoder_ = nullptr;
    engine::CheckpointEngine* engine_ = nullptr;
};

}  // namespace tandem::x86
