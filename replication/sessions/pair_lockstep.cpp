// A lockstep pair (mode=lockstep, issue 13; DESIGN §1): the pair's session with both guests
// running. The join is checkpoint mode's pre-copy; from the first protected epoch on, the
// primary forwards every client frame for its guest over the link (LockstepPrimary), compares
// its guest's output with the backup guest's, and captures an epoch only when the comparison or
// a bound asks (SyncPolicy, through the replicator's EpochDriver). Each such epoch starts a
// generation: the backup keeps the committed image in `reference_` (its BackupImage writes
// there, so a page delta always decodes against the committed page), runs its guest on its own
// RAM, and at each generation start brings the pages that either side changed since the last
// one back to the image (the image's changes, `applied_`, and its guest's writes, harvested by
// its dirty tracker), restores the vCPU and devices from the epoch and runs on, fed the
// generation's client input (LockstepBackup). On the primary's silence the backup takes over from
// its live guest: everything a client saw was matched by that guest or committed in an epoch it
// applied.
#include "replication/sessions/pair_session.hpp"
#include "replication/sessions/takeover.hpp"

namespace tandem::sessions {
namespace {
constexpr std::uint64_t kPage = checkpoint::kPageSize;
constexpr std::uint64_t kMs = 1'000'000;
constexpr std::uint64_t kRamSlicePages = 256;  // 1 MiB per poll of a joining lockstep backup
}  // namespace

Status PairSession::allocate_lockstep() {
    MemorySource& memory = machine_.memory();
    auto comparator = memory.zeroed(2 * lockstep::OutputComparator::kMaxSlots * lockstep::OutputComparator::kSlotSize);
    auto held = memory.zeroed(lockstep::LockstepBackup::kStorageBytes);
    auto queue = memory.zeroed(lockstep::LockstepPrimary::kQueueBytes);
    auto bits = memory.zeroed_array<std::uint64_t>(2 * words_);
    if (!comparator || !held || !queue || !bits) return Error::of("not enough memory for lockstep's output comparison");
    comparator_storage_ = *comparator;
    forward_queue_storage_ = *queue;
    held_storage_ = *held;
    lockstep_bits_ = *bits;
    std::uint64_t pages = machine_.config().guest_mem / kPage;
    applied_ = dirty::DirtyBitmap(lockstep_bits_.subspan(0, words_), pages);
    backup_dirty_ = dirty::DirtyBitmap(lockstep_bits_.subspan(words_, words_), pages);
    return success();
}

void PairSession::build_lockstep_parts(virtio::NetBackend& client) {
    const Config& config = machine_.config();
    lockstep::SyncPolicyConfig policy;
    policy.max_ns = std::uint64_t{config.lockstep_max_ms} * kMs;
    policy.epoch_ns = std::uint64_t{config.epoch_ms} * kMs;
    lockstep_primary_.emplace(comparator_storage_, forward_queue_storage_, client, *output_, glue_, machine_.clock(), policy,
                              std::uint64_t{config.lockstep_wait_ms} * kMs, out_);
    lockstep_backup_.emplace(held_storage_, glue_, glue_);
}

// The backup: its image is the reference area, not the guest's RAM; the client NIC is the
// split-brain guard's until a takeover.
void PairSession::start_lockstep_backup() {
    image_->set_applied_pages(&applied_);
    backup_->set_forward_sink(&glue_);
    if (GuestNetwork* network = machine_.guest_network()) network->set_receiving(false);
}

void PairSession::attach_lockstep_primary() {
    primary_->set_driver(&glue_);
    if (GuestNetwork* network = machine_.guest_network()) {
        network->set_receiving(true);
        network->set_input_tap(&glue_);
    }
    // A backup's guest sends through its lockstep path (GuestPlan at start): from now on that
    // passes the output, still rewritten, to this primary's.
    if (machine_.config().role == Role::backup && !lockstep_backup_->promoted()) {
        lockstep_backup_->promote(*lockstep_primary_);
    }
}

Session::Next PairSession::poll_lockstep_backup(bool take_over_now) {
    // Before its guest runs, the backup brings its RAM to the image a slice at a time between
    // receives: the join's whole-guest copy at the generation's start held a 128 MiB backup off
    // the link for half a second, and its primary gave it up.
    if (!backup_guest_running_) bring_ram_to_image(applied_, kRamSlicePages);
    if (std::optional<std::uint64_t> start = committed_generation_start()) {
        if (auto s = start_backup_generation(*start); !s) {
            report_problem(out_, "lockstep: the backup's guest", s.error());
            phase_ = Phase::failed;
            return Next::finished;
        }
    }
    if (take_over_now) {
        takeover_due_ = false;
        if (auto s = take_over(); !s) {
            report_problem(out_, "the takeover", s.error());
            phase_ = Phase::failed;
            return Next::finished;
        }
        return Next::run_guest;
    }
    return backup_guest_running_ ? Next::run_guest : Next::wait;
}

// The generation the primary started whose checkpoint this backup has committed: its guest is
// due to run from it (none: nothing new, or its checkpoint still on the way).
std::optional<std::uint64_t> PairSession::committed_generation_start() const {
    std::optional<std::uint64_t> start = lockstep_backup_->pending_start();
    if (start && image_->has_committed() && image_->committed_epoch() == *start) return start;
    return std::nullopt;
}

// The backup's guest runs from the checkpoint of epoch `generation` (committed in the image).
Status PairSession::start_backup_generation(std::uint64_t generation) {
    bool first = !backup_guest_running_;
    if (first) {
        backup_dirty_.clear();
        tracker_->begin();
    } else {
        tracker_->harvest(backup_dirty_);  // what this guest wrote since the last start
    }
    backup_dirty_.merge(applied_);
    bring_ram_to_image(backup_dirty_, ~std::uint64_t{0});
    applied_.clear();
    if (auto s = restore_committed_state(machine_, *image_); !s) return s;
    lockstep_backup_->generation_started(generation);
    if (first) {
        backup_guest_running_ = true;
        machine_.set_events(this);
        machine_.set_tick_ms(1);
        println(out_, "lockstep: the backup's guest runs from epoch {}, fed the primary's client input; its output is "
                      "compared with the primary's",
                generation);
    }
    return success();
}

// RAM[p] = image[p] for at most `limit` of the pages set, clearing their bits; the link kept
// alive through a long copy.
void PairSession::bring_ram_to_image(dirty::DirtyBitmap& pages, std::uint64_t limit) {
    GuestMemory& ram = machine_.ram();
    std::uint64_t copied = 0;
    for (std::uint64_t p = pages.next(0); p < pages.pages() && copied < limit; p = pages.next(p + 1)) {
        (void)reference_.read(p * kPage, page_);  // both are guest-sized: inside
        (void)ram.write(p * kPage, page_);
        pages.reset(p);
        if (++copied % engine::kKeepaliveEvery == 0) transport_->keepalive();
    }
}

// The takeover's guest: the live one if it runs (brought to the last committed epoch first if
// that started a generation it has not run yet), else the committed image as checkpoint mode does.
Status PairSession::lockstep_takeover_state() {
    if (!backup_guest_running_) {
        bring_ram_to_image(applied_, ~std::uint64_t{0});  // what the slices have not copied yet
        return restore_committed_state(machine_, *image_);
    }
    std::optional<std::uint64_t> start = committed_generation_start();
    return start ? start_backup_generation(*start) : success();
}

// The backup guest's tick: the link, the primary's silence, and a stop when a generation's
// checkpoint is committed or the takeover is due (both are done between runs, in poll).
void PairSession::on_backup_timer() {
    backup_->listening();
    feed_->receive();
    if (prober_) prober_->receive();
    if (backup_->poll()) takeover_due_ = true;
    if (!image_->has_committed()) {
        // The backup started over (a new primary session, or a stale image): its guest stops
        // until a generation of the new copy starts it again.
        backup_guest_running_ = false;
        println(out_, "lockstep: the backup's guest stops: this backup starts over with a new copy");
        machine_.stop_guest("lockstep: the backup starts over");
        return;
    }
    // Its figures every 10 s while it runs, as the primary's.
    if (machine_.now() - lockstep_report_at_ >= 10'000 * machine_.tsc_khz()) {
        lockstep_report_at_ = machine_.now();
        report_backup_figures(out_);
    }
    if (takeover_due_ || committed_generation_start()) machine_.stop_guest("lockstep: a checkpoint or a takeover");
    sample_throughput();
}

// The primary's lockstep figures on the console every 10 s while output moves (issue 13).
void PairSession::report_lockstep_progress() {
    if (!lockstep_primary_ || !lockstep_primary_->joined()) return;
    std::uint64_t now = machine_.now();
    if (now - lockstep_report_at_ < 10'000 * machine_.tsc_khz()) return;
    lockstep_report_at_ = now;
    if (lockstep_primary_->frames_released() == lockstep_reported_frames_) return;
    lockstep_reported_frames_ = lockstep_primary_->frames_released();
    lockstep_primary_->report(out_);
}

bool PairSession::on_backup_write_fault(std::uint64_t gpa) {
    if (!tracker_->on_write_fault(gpa / kPage)) return false;
    machine_.dirty_control().set_write_protect(gpa / kPage, false);
    return true;
}

void PairSession::lockstep_status(Writer& out) const {
    if (lockstep_primary_ && lockstep_primary_->joined()) lockstep_primary_->report(out);
    if (lockstep_backup_ && backup_guest_running_ && !took_over_) report_backup_figures(out);
}

void PairSession::report_backup_figures(Writer& out) const {
    const lockstep::LockstepBackupStats& b = lockstep_backup_->stats();
    println(out, "lockstep: backup guest in generation {} ({} started): client input delivered {} (held {}, stale {}, "
                 "lost {}), output sent {} (waited for the link {})",
            lockstep_backup_->generation(), b.generations, b.inputs_delivered, b.inputs_held, b.inputs_stale,
            b.inputs_out_of_order + b.inputs_no_room, b.outputs_sent, b.outputs_waited);
}

// The glue.
bool LockstepGlue::boundary_due() { return session_.sync_due_.has_value(); }

void LockstepGlue::captured(std::uint64_t epoch, bool protecting) {
    if (!protecting) return;  // the join's pre-copy
    lockstep::LockstepPrimary& primary = *session_.lockstep_primary_;
    lockstep::SyncReason reason = primary.joined() ? session_.sync_due_.value_or(lockstep::SyncReason::periodic)
                                                   : lockstep::SyncReason::join;
    session_.sync_due_.reset();
    primary.checkpoint_captured(epoch, reason);
}

void LockstepGlue::acknowledged(std::uint64_t epoch) { session_.lockstep_primary_->backup_synced(epoch); }
void LockstepGlue::backup_lost() {
    session_.sync_due_.reset();
    session_.lockstep_primary_->backup_lost();
}
void LockstepGlue::on_forward(std::span<const std::uint8_t> payload) { session_.lockstep_primary_->on_message(payload); }

bool LockstepGlue::send_forward(std::span<const std::uint8_t> message) {
    link::Transport& transport = *session_.transport_;
    if (!transport.can_send()) return false;
    return static_cast<bool>(transport.send(link::FrameType::forward, 0, message));
}

bool LockstepGlue::deliver(std::span<const std::uint8_t> frame) {
    virtio::VirtioMmioNet* net = session_.machine_.guest_machine().net();
    return net != nullptr && net->deliver(frame);
}

// Rewritten first when this machine took over from a lockstep backup (its guest numbers some
// connections its own way), then forwarded to the backup, then the guest's.
void LockstepGlue::guest_input(std::span<const std::uint8_t> frame) {
    if (frame.size() > sizeof(frame_)) return;  // the client NIC receives no larger frames
    for (std::size_t i = 0; i < frame.size(); ++i) frame_[i] = frame[i];
    std::span<std::uint8_t> copy{frame_, frame.size()};
    if (session_.lockstep_backup_->promoted()) session_.lockstep_backup_->rewrite_incoming(copy);
    session_.lockstep_primary_->forward_input(copy, 0);
    (void)deliver(copy);
}

void LockstepGlue::on_message(const link::Message& message) { session_.lockstep_backup_->on_message(message.payload); }

}  // namespace tandem::sessions
