// A protected pair (mode=checkpoint peer=link, DESIGN §1, §3, §5), either side. The primary runs
// the guest and streams every epoch over the replication link; guest network output of epoch N
// leaves only once the backup acknowledged N (engine/primary_replicator.hpp). The backup stages,
// applies and acknowledges each epoch (engine/backup_replicator.hpp); when the primary falls
// silent for failover_ms and does not answer a probe on the client network either (the
// split-brain guard, split_brain_probe.hpp), the backup takes over: it restores the last
// committed epoch strictly (takeover.hpp), announces the guest with gratuitous ARP and becomes
// a primary that runs the guest, unprotected, accepting a new backup (re-protection). A primary
// that loses its backup keeps serving, unprotected, and says so. `failover` on the primary's
// console stops its guest for good and hands it to the backup; `switchover` first sends the
// stopped guest's last epoch, then hands it over and rejoins as the backup (pair_handover.cpp);
// `migrate` does the same with a machine booted mode=migrate once it has joined and caught up,
// and this machine then runs nothing (pair_migrate.cpp). The console's
// `status`, `stats` and `link`, with their JSON forms: pair_commands.cpp, pair_reports.cpp.
#pragma once

#include <optional>

#include "hypervisor/console/json_writer.hpp"
#include "replication/checkpoint/backup_image.hpp"
#include "replication/checkpoint/decoder.hpp"
#include "replication/checkpoint/encoder.hpp"
#include "replication/dirty/dirty_tracker.hpp"
#include "replication/engine/backup_replicator.hpp"
#include "replication/engine/checkpoint_engine.hpp"
#include "replication/engine/output_commit.hpp"
#include "replication/engine/primary_replicator.hpp"
#include "replication/engine/stream_queue.hpp"
#include "replication/link/nic_link.hpp"
#include "replication/link/transport.hpp"
#include "replication/sessions/guest_throttle.hpp"
#include "replication/sessions/handover_probe.hpp"
#include "replication/sessions/lockstep_glue.hpp"
#include "replication/sessions/session.hpp"
#include "replication/sessions/session_machine.hpp"
#include "replication/sessions/split_brain_probe.hpp"

namespace tandem::sessions {

// The guest's frames when it has no network card (no guest_mac=): there are none.
class DropBackend final : public virtio::NetBackend {
public:
    bool transmit(std::span<const std::uint8_t>) override { return true; }
};

class PairSession final : public Session, public GuestEvents, public engine::StateSource, public engine::TickClock {
public:
    static constexpr std::size_t kStreamQueueBytes = 512 * 1024;
    static constexpr std::size_t kOutputFrames = 512;
    static constexpr std::uint64_t kSliceSharePercent = 30;  // of each 1 ms tick, at most, encoding
    // A timer exit's link sends and copy stop after this long: in Bochs a sealed frame costs
    // ~1.4 ms and a page's encoding ~0.45 ms, and without the bound exits of a join held the
    // guest 55-87 ms (the VM's watchdog bound is 50 ms).
    static constexpr std::uint64_t kTimerExitBudgetMs = 5;
    static constexpr char kThrottlePause[] = "auto-converge throttle";  // a stop that is only a pause

    explicit PairSession(SessionMachine& machine)
        : machine_(machine), out_(machine.out()), slots_(machine.memory().window()),
          reference_(machine.memory().window()) {}

    Status start() override;
    Next poll() override;
    void guest_ended(const GuestEnd& end) override;

    // As the primary (GuestEvents): the tick drives the link and the epochs.
    void on_timer() override;
    bool on_ram_write_fault(std::uint64_t gpa) override;
    void on_pml_full() override;
    // What the engine captures.
    Status capture_cpu(checkpoint::CpuState& out) override { return machine_.capture_cpu(out); }
    std::size_t device_count() const override { return machine_.guest_machine().devices().size(); }
    StatefulDevice& device(std::size_t index) override { return machine_.guest_machine().devices().at(index); }
    std::uint64_t now() const override { return machine_.now(); }

    bool took_over() const { return took_over_; }
    const lockstep::LockstepPrimary* lockstep_primary() const { return lockstep_primary_ ? &*lockstep_primary_ : nullptr; }
    const lockstep::LockstepBackup* lockstep_backup() const { return lockstep_backup_ ? &*lockstep_backup_ : nullptr; }
    bool backup_guest_running() const { return backup_guest_running_ && !took_over_; }
    engine::PrimaryReplicator* primary() { return primary_ ? &*primary_ : nullptr; }
    engine::BackupReplicator* backup() { return backup_ ? &*backup_ : nullptr; }
    link::Transport& transport() { return *transport_; }
    link::TransportFeed& link_feed() { return *feed_; }  // what the link NIC receives goes here
    void status(Writer& out) const;
    void status_json(Writer& out) const;
    void stats(Writer& out) const;
    void stats_json(Writer& out) const;
    void link_report(Writer& out) const {
        transport_->report(out);
        if (envelope_) envelope_->report(out);
    }
    const link::UdpEnvelope* udp_envelope() const { return envelope_ ? &*envelope_ : nullptr; }
    void link_report_json(Writer& out) const { transport_->report_json(out, udp_envelope()); }

private:
    friend class LockstepGlue;
    // switching: the guest stopped for a `switchover`, its last epoch on its way to the backup;
    // handing_over: the notice on its way; handed_over (failover): silent, running nothing.
    enum class Phase : std::uint8_t { following, running, ended, failed, switching, handing_over, handed_over };

    Status allocate();
    Status open_link();
    void build_engine_parts();
    link::TransportConfig transport_config() const;
    Status start_backup();
    Status become_primary(bool took_over);
    Next poll_backup();
    Status take_over();
    void report_takeover_stages(const engine::TakeoverTimes& times, std::uint64_t began_ns, std::uint64_t done_ns);
    void register_commands();
    static void command_status(void* context, std::string_view arguments, Writer& out);
    static void command_link(void* context, std::string_view arguments, Writer& out);
    static void command_epoch(void* context, std::string_view arguments, Writer& out);
    static void command_stats(void* context, std::string_view arguments, Writer& out);
    static void command_failover(void* context, std::string_view arguments, Writer& out);
    static void command_switchover(void* context, std::string_view arguments, Writer& out);
    static void command_migrate(void* context, std::string_view arguments, Writer& out);
    static void command_reprotect(void* context, std::string_view arguments, Writer& out);
    bool may_hand_over(const char* command, Writer& out) const;
    void failover(Writer& out);
    void switchover(Writer& out);
    Next poll_switchover();
    Next abort_switchover(const char* why);
    void begin_handover();
    Next poll_handover();
    Next poll_handover_probe();
    void answer_probes();  // the backup's probes, while this machine's guest is stopped
    Next resume_after_handover();
    Next resume_guest_here();
    void finish_handover(const char* how);
    void rejoin_as_backup();
    // Live migration (pair_migrate.cpp).
    bool target() const { return machine_.config().mode == Mode::migrate; }
    // Booted mode=standalone with a link key (mode_table.cpp): a primary that takes no backup, only
    // the target of a `migrate` asked here (until it takes the guest over again some day).
    bool standalone_source() const { return machine_.config().mode == Mode::standalone; }
    const char* switch_name() const { return migrating_ ? "migrate" : "switchover"; }
    const char* handover_name() const { return switchover_asked_ ? switch_name() : "failover"; }
    const char* peer_name() const { return migrating_ ? "target" : "backup"; }
    void migrate(std::string_view arguments, Writer& out);
    void cancel_migration(Writer& out);
    void poll_migration();
    void print_migration_progress();
    bool last_copy_fits();  // auto-converge: stop the guest now, or throttle it (harder)
    void pause_if_throttled();
    Next poll_throttled();
    void enter_switching();
    void end_throttle();
    void give_up_migration(const char* why);
    void finish_migration(const char* how);
    void migration_json(JsonWriter& json) const;
    void reprotect(Writer& out);
    // Lockstep (pair_lockstep.cpp, issue 13): both guests run.
    bool lockstep() const { return machine_.config().mode == Mode::lockstep; }
    Status allocate_lockstep();
    void build_lockstep_parts(virtio::NetBackend& client);
    void start_lockstep_backup();
    void attach_lockstep_primary();
    Next poll_lockstep_backup(bool take_over_now);
    std::optional<std::uint64_t> committed_generation_start() const;
    Status start_backup_generation(std::uint64_t generation);
    void bring_ram_to_image(dirty::DirtyBitmap& pages, std::uint64_t limit);
    Status lockstep_takeover_state();
    void on_backup_timer();
    bool on_backup_write_fault(std::uint64_t gpa);
    void lockstep_status(Writer& out) const;
    void report_backup_figures(Writer& out) const;
    // The checkpoint stream's bytes per second over the last whole second (pair_reports.cpp).
    void sample_throughput();
    std::uint64_t stream_bytes() const;
    std::uint64_t uptime_ms() const { return machine_.now() / machine_.tsc_khz(); }
    std::uint64_t ticks_to_us(std::uint64_t ticks) const { return ticks * 1000 / machine_.tsc_khz(); }
    const char* protection_name() const;
    const char* phase_name() const;

    SessionMachine& machine_;
    Writer& out_;
    Phase phase_ = Phase::following;
    bool took_over_ = false;
    bool takeover_handed_ = false;           // the takeover was the primary's `failover`, not its silence
    std::uint64_t took_over_at_ = 0;         // ticks
    std::uint64_t takeover_epoch_ = 0;
    bool handover_asked_ = false;            // `failover`: the guest is stopping for the hand-over
    bool handover_sent_ = false;
    std::uint64_t handover_since_ = 0;       // ticks
    bool switchover_asked_ = false;          // `switchover`: the guest is stopping, to go on at the backup
    std::uint64_t switch_since_ = 0, switch_polled_at_ = 0;  // ticks
    std::uint64_t captured_at_stop_ = 0;     // epochs captured when the guest stopped
    bool final_known_ = false;
    std::uint64_t final_epoch_ = 0;          // the first epoch captured after the stop: all of the guest
    bool migrate_armed_ = false;             // `migrate`: the guest moves once a target holds all of it
    bool migrating_ = false;                 // the switchover under way is the migration's
    bool migrated_ = false;                  // the guest went to a target: this machine runs nothing
    bool migrate_saw_target_ = false;        // a target had joined since `migrate`
    std::uint64_t migrate_since_ = 0, migrate_bytes_at_ = 0;  // ticks; stream bytes at `migrate`
    GuestThrottle throttle_;                 // auto-converge (guest_throttle.hpp)
    std::uint64_t throttle_epoch_ = 0;       // the last epoch captured when the throttle last stepped
    std::uint32_t throttle_used_ = 0;        // percent, the hardest of the last migration
    bool throttle_paused_ = false;           // the guest sits out the rest of its throttle period
    std::uint64_t throttle_polled_at_ = 0;   // ticks
    std::uint64_t expected_stop_ms_ = 0;     // auto-converge's last estimate of the last copy (0: none yet)
    bool joiner_noted_ = false;              // a machine waits on the link of a standalone source: said
    std::uint64_t migrate_progress_at_ = 0;  // ticks: the last migration progress line (0: none yet)
    std::uint64_t rate_at_ = 0, rate_bytes_ = 0, throughput_ = 0;  // sample_throughput()
    link::LinkSecret secret_{};
    DirtyTracking method_ = DirtyTracking::automatic;

    // Two guest-sized areas beside the guest's RAM (on the backup: the committed image, which
    // becomes the RAM on takeover): page slots (the backup's staging, later the engine's
    // copy-on-write slots) and the reference of what the peer holds.
    GuestMemory slots_, reference_;
    std::span<std::uint32_t> slot_of_page_;
    std::span<std::uint64_t> staged_gpa_, bits_;
    std::span<std::uint8_t> queue_storage_, output_storage_;
    std::size_t words_ = 0;

    // The link.
    std::optional<link::UdpEnvelope> envelope_;  // the link over UDP/IPv4 (link_ip=), else none
    std::optional<link::NicChannel> channel_;
    link::MessageSwitch messages_;
    std::optional<link::Transport> transport_;
    std::optional<link::TransportFeed> feed_;

    // The engine (the primary's, and the backup's once it took over) and the guest's output.
    dirty::DirtyBitmap current_, sending_;
    std::optional<dirty::DirtyTracker> tracker_;
    std::optional<engine::StreamQueue> queue_;
    std::optional<checkpoint::EpochEncoder> encoder_;
    DropBackend no_network_;
    std::optional<ClientNicSender> client_sender_;
    std::optional<engine::OutputCommitBuffer> output_;
    std::optional<engine::CheckpointEngine> engine_;
    std::optional<engine::PrimaryReplicator> primary_;
    std::uint32_t epoch_ms_ = 0;  // set on the console (`epoch`); 0: the configured epoch_ms
    std::optional<ProbeResponder> responder_;
    HandoverProbe handover_probe_;  // after an unacknowledged notice: does the peer run the guest?

    // The backup's side.
    std::optional<checkpoint::BackupImage> image_;
    std::optional<checkpoint::StreamDecoder> decoder_;
    NoProber no_prober_;
    std::optional<ClientProber> prober_;
    std::optional<engine::BackupReplicator> backup_;

    // Lockstep: both paths exist on both sides (a backup that takes over becomes a primary).
    LockstepGlue glue_{*this};
    std::span<std::uint8_t> comparator_storage_, held_storage_, forward_queue_storage_;
    std::span<std::uint64_t> lockstep_bits_;
    dirty::DirtyBitmap applied_, backup_dirty_;  // the image's changes, the backup guest's writes
    std::optional<lockstep::LockstepPrimary> lockstep_primary_;
    std::optional<lockstep::LockstepBackup> lockstep_backup_;
    std::optional<lockstep::SyncReason> sync_due_;
    bool backup_guest_running_ = false;  // the backup runs its guest from a generation's checkpoint
    bool takeover_due_ = false;          // found on the backup guest's timer: stop it, take over
    std::uint64_t lockstep_report_at_ = 0, lockstep_reported_frames_ = 0;  // ticks; the figures every 10 s
    void report_lockstep_progress();
    std::uint8_t page_[checkpoint::kPageSize]{};
};

}  // namespace tandem::sessions
