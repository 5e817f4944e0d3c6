#include "replication/sessions/loopback_session.hpp"

#include "hypervisor/console/console_mux.hpp"
#include "replication/engine/memory_digest.hpp"
#include "replication/sessions/single_status_json.hpp"
#include "replication/sessions/takeover.hpp"

namespace tandem::sessions {
namespace {

constexpr std::uint64_t kPage = checkpoint::kPageSize;

std::uint64_t micros(std::uint64_t ticks, std::uint64_t khz) { return khz == 0 ? 0 : ticks * 1000 / khz; }

const char* method_text(DirtyTracking method) {
    return method == DirtyTracking::pml       ? "PML"
           : method == DirtyTracking::ad_bits ? "EPT dirty-bit scan"
                                              : "EPT write-protection";
}

void command_status(void* context, std::string_view args, Writer& out) {
    auto* session = static_cast<LoopbackSession*>(context);
    auto form = Shell::form_argument("status", args, out);
    if (!form) return;
    if (*form == Shell::Form::json) return session->status_json(out);
    session->status(out);
}

void command_failover(void* context, std::string_view, Writer& out) {
    auto* session = static_cast<LoopbackSession*>(context);
    if (!session->active()) {
        println(out, "failover: nothing to fail over to (mode=checkpoint peer=local keeps a backup)");
        return;
    }
    println(out, "failover: the primary will stop at the next timer tick");
    session->request_failover();
}

}  // namespace

Status LoopbackSession::allocate(engine::CaptureMode capture, DirtyTracking method) {
    MemorySource& memory = machine_.memory();
    GuestMemory& primary = machine_.ram();
    std::uint64_t size = primary.size();
    std::uint64_t pages = size / kPage;
    std::size_t words = dirty::DirtyBitmap::words_for(pages);
    Status r = memory.guest_sized(size, reference_);
    Status s = r ? memory.guest_sized(size, staging_) : r;
    Status b = s ? memory.guest_sized(size, backup_memory_) : s;
    Status bs = b ? memory.guest_sized(size, backup_staging_) : b;
    auto slots = memory.zeroed_array<std::uint32_t>(pages);
    auto staged_gpa = memory.zeroed_array<std::uint64_t>(pages);
    auto bits = memory.zeroed_array<std::uint64_t>(3 * words);
    auto digests = memory.zeroed_array<std::uint64_t>(2 * pages);
    if (!bs || !slots || !staged_gpa || !bits || !digests) {
        return Error::of("checkpoint: not enough memory for the reference copy, staging and the backup image "
                         "(about 5 times guest_mem in all); bytes of guest RAM",
                         size);
    }
    current_ = dirty::DirtyBitmap(bits->subspan(0, words), pages);
    sending_ = dirty::DirtyBitmap(bits->subspan(words, words), pages);
    primary_page_digests_ = digests->subspan(0, pages);
    backup_page_digests_ = digests->subspan(pages, pages);
    tracker_.emplace(method, machine_.dirty_control(), machine_.pml_log(), current_);
    encoder_.emplace(*this);
    backup_.emplace(backup_memory_, backup_staging_, *staged_gpa, bits->subspan(2 * words, words));
    decoder_.emplace(*backup_);
    engine_.emplace(engine::EngineMemory{primary, reference_, staging_, *slots, sending_}, *tracker_,
                    machine_.dirty_control(), *this, *encoder_, *this, capture, true);
    return success();
}

void LoopbackSession::register_commands() {
    Shell& shell = machine_.shell();
    (void)shell.add({"status", "the guest and checkpointing state", command_status, this, "[--json]"});
    (void)shell.add({"failover", "stop the primary and resume the guest from the backup", command_failover, this});
}

Status LoopbackSession::start() {
    const Config& c = machine_.config();
    auto method = machine_.dirty_tracking();
    if (!method) {
        report_problem(out_, "dirty tracking", method.error());
        return method.error();
    }
    GuestPlan plan;
    plan.checkpointing = true;
    if (auto s = machine_.prepare_guest(plan); !s) return s;
    engine::CaptureMode capture = c.capture == CaptureChoice::cow ? engine::CaptureMode::cow : engine::CaptureMode::copy;
    config_ = Settings{c.epoch_ms, c.verify_every, c.failover_at, c.restore_every, c.epoch_report};
    if (auto s = allocate(capture, *method); !s) {
        report_problem(out_, "checkpointing", s.error());
        return s;
    }
    epoch_ticks_ = machine_.tsc_khz() * config_.epoch_ms;
    // Timer slices of 1 ms: the transfer of an epoch advances in slices while the guest runs.
    machine_.set_tick_ms(1);
    machine_.set_events(this);
    machine_.ram().set_write_observer(&*engine_);
    active_ = true;
    print(out_, "checkpoint: local backup image, epochs of {} ms, dirty tracking by {}, capture by {}{}", config_.epoch_ms,
          method_text(*method), capture == engine::CaptureMode::cow ? "copy-on-write" : "copy during the pause",
          config_.failover_at != 0 ? "; failover planned" : "");
    if (config_.restore_every != 0) {
        print(out_, "; the guest restored from the backup image every {} epochs", config_.restore_every);
    }
    out_.write("\n");
    if (auto st = engine_->start(); !st) {
        report_problem(out_, "checkpointing", st.error());
        return st;
    }
    arm_verify();
    next_epoch_at_ = now() + epoch_ticks_;
    register_commands();
    ConsoleMux::announce_ready(out_);
    return success();
}

void LoopbackSession::guest_ended(const GuestEnd& end) {
    ran_ = true;
    finish();
    machine_.report_guest_end(end);
}

void LoopbackSession::fail(const char* what, const Error& e) {
    print(out_, "checkpoint: {}: ", what);
    println(out_, "{}", e);
    println(out_, "checkpoint: stopped; the guest runs on unprotected");
    active_ = false;
}

void LoopbackSession::arm_verify() {
    std::uint64_t epoch = engine_->epochs_started() - 1;
    if (config_.verify_every == 0 || epoch % config_.verify_every != 0) return;
    // The primary's memory exactly as captured: the guest has not run since the capture.
    auto digest = engine::memory_digest(machine_.ram(), primary_page_digests_);
    if (!digest) return fail("memory digest", digest.error());
    verify_ = {true, epoch, *digest, engine_->captured_state_digest()};
}

void LoopbackSession::after_transfer() {
    if (!backup_->has_committed()) return;
    std::uint64_t committed = backup_->committed_epoch();
    if (committed_any_ && committed == committed_seen_) return;
    committed_any_ = true;
    committed_seen_ = committed;
    if (history_count_ < kHistory) history_[history_count_++] = engine_->completed_stats();
    if (verify_.armed && verify_.epoch == committed) {
        verify_.armed = false;
        auto memory = engine::memory_digest(backup_->image(), backup_page_digests_);
        if (!memory) return fail("memory digest", memory.error());
        std::uint64_t state = backup_->committed_cpu().digest();
        bool equal = *memory == verify_.memory && state == verify_.state;
        ++verifications_;
        if (!equal) ++verification_failures_;
        println(out_, "checkpoint: verify epoch {}: primary memory {} state {}; backup memory {} state {}: {}", committed,
                hex(verify_.memory, 16), hex(verify_.state, 16), hex(*memory, 16), hex(state, 16),
                equal ? "equal" : "DIFFERENT");
        if (*memory != verify_.memory) {
            unsigned shown = 0;
            for (std::size_t p = 0; p < primary_page_digests_.size() && shown < 8; ++p) {
                if (primary_page_digests_[p] == backup_page_digests_[p]) continue;
                println(out_, "checkpoint:   page at guest-physical {} differs", hex(p * kPage));
                ++shown;
            }
        }
    }
}

void LoopbackSession::status(Writer& out) const {
    report_guest_status(out, machine_, "");
    if (!active_) {
        println(out, "checkpoint: not active (no backup: the guest runs unprotected)");
        return;
    }
    println(out, "checkpoint: epoch {} in progress; backup committed epoch {}{}", engine_->epochs_started(),
            committed_seen_, committed_any_ ? "" : " (none yet)");
}

void LoopbackSession::status_json(Writer& out) const {
    SingleMachineStatus s;
    s.mode = "checkpoint_local";
    s.ended = ran_;
    s.protection = active_ && committed_any_ ? "protected" : "unprotected";
    s.has_length = active_;
    s.length_ms = config_.epoch_ms;
    s.has_current = active_ && engine_->epochs_started() != 0;
    s.current = s.has_current ? engine_->epochs_started() - 1 : 0;
    s.has_committed = committed_any_;
    s.committed = committed_seen_;
    s.failed_over = failed_over_;
    s.failed_over_at = failed_over_at_;
    s.failover_epoch = failover_epoch_;
    write_single_status_json(out, machine_, s);
}

void LoopbackSession::on_timer() {
    if (!active_) return;
    if (failover_requested_) {
        failover_requested_ = false;
        println(out_, "failover: requested on the console");
        return failover();
    }
    if (engine_->transferring()) {
        std::uint64_t until = now() + machine_.tsc_khz() * kSliceSharePercent / 100;  // 1 ms slices
        do {
            if (auto s = engine_->transfer(4); !s) return fail("transfer", s.error());
        } while (engine_->transferring() && now() < until);
        after_transfer();
    }
    std::uint64_t t = now();
    if (t < next_epoch_at_) return;
    if (config_.failover_at != 0 && engine_->epochs_started() == config_.failover_at) return failover();
    if (auto s = engine_->epoch_boundary(); !s) return fail("epoch boundary", s.error());
    after_transfer();  // the previous epoch may have completed inside the boundary
    arm_verify();
    std::uint64_t epoch = engine_->epochs_started() - 1;
    if (config_.restore_every != 0 && epoch % config_.restore_every == 0) restore_from_backup();
    next_epoch_at_ = now() + epoch_ticks_;
}

// restore_every=: the epoch just captured goes to the backup whole, then the running guest is
// put back to what the backup committed, as a failover would, but on the primary's own RAM and
// with checkpointing going on. The guest has not run since the capture, so a faithful round trip
// changes nothing it can see; anything lost or distorted on the way shows up as a guest that
// misbehaves (or a kernel that warns) after many restores.
void LoopbackSession::restore_from_backup() {
    std::uint64_t epoch = engine_->epochs_started() - 1;
    if (auto s = engine_->transfer(~0ull); !s) return fail("transfer before a restore", s.error());
    after_transfer();
    if (!backup_->has_committed() || backup_->committed_epoch() != epoch) {
        return fail("restore", Error::of("checkpoint: the backup did not commit the epoch just captured", epoch));
    }
    if (auto s = restore_committed_state(machine_, *backup_); !s) {
        return fail("restoring the vCPU and devices from the backup image", s.error());
    }
    // The pages of the epoch (still in sending_) come back from the image. Not through the
    // engine: these copies are not guest writes, and the next epoch must not carry them.
    GuestMemory& primary = machine_.ram();
    primary.set_write_observer(nullptr);
    Status copied = success();
    std::uint64_t pages = sending_.pages();
    for (std::uint64_t p = sending_.next(0); p < pages && copied; p = sending_.next(p + 1)) {
        copied = backup_->image().read(p * kPage, page_);
        if (copied) copied = primary.write(p * kPage, page_);
    }
    primary.set_write_observer(&*engine_);
    if (!copied) return fail("copying pages from the backup image", copied.error());
    ++restores_;
}

bool LoopbackSession::on_ram_write_fault(std::uint64_t gpa) {
    if (!active_) {
        // Checkpointing stopped with pages still protected: just let the guest write.
        machine_.dirty_control().set_write_protect(gpa / kPage, false);
        return true;
    }
    return engine_->on_write_fault(gpa);
}

void LoopbackSession::on_pml_full() {
    if (active_) {
        tracker_->on_pml_full();
    } else if (dirty::PmlLog* log = machine_.pml_log()) {
        log->reset_index();
    }
}

void LoopbackSession::failover() {
    std::uint64_t at = engine_->epochs_started();
    active_ = false;
    if (!backup_->has_committed()) {
        println(out_, "failover: the primary stopped at epoch {}, but the backup has no committed epoch yet", at);
        return machine_.stop_guest("failover impossible: nothing committed");
    }
    std::uint64_t epoch = backup_->committed_epoch();
    println(out_, "failover: primary stopped in epoch {} (its uncommitted work is discarded); backup committed epoch {}",
            at, epoch);
    failed_over_ = true;
    failed_over_at_ = now();
    failover_epoch_ = epoch;
    backup_->abandon_epoch();
    std::uint64_t primary_rip = machine_.guest_rip();
    machine_.ram().set_write_observer(nullptr);
    // The guest, and the device models that touch guest memory, now work on the backup's image.
    if (auto s = machine_.use_memory(backup_->image()); !s) return fail("switching to the backup image", s.error());
    if (auto s = restore_committed_state(machine_, *backup_); !s) {
        fail("restoring the vCPU and devices", s.error());
        return machine_.stop_guest("failover failed: the committed state could not be restored");
    }
    println(out_, "failover: the guest resumes from the backup's epoch {} at rip {} (the primary was at {}), "
                  "unprotected (no backup left)",
            epoch, hex(machine_.guest_rip()), hex(primary_rip));
}

void LoopbackSession::finish() {
    if (active_) {
        // A last checkpoint of the final state, fully transferred, and always verified.
        config_.verify_every = 1;
        if (auto s = engine_->epoch_boundary(); !s) return fail("final epoch", s.error());
        after_transfer();
        arm_verify();
        if (auto s = engine_->transfer(~0ull); !s) return fail("final transfer", s.error());
        after_transfer();
    }
    report();
}

void LoopbackSession::report() {
    std::uint64_t khz = machine_.tsc_khz();
    std::uint64_t pause_sum = 0, pause_max = 0, pause_min = ~0ull, pages = 0, bytes = 0, cow = 0, backlog = 0;
    for (std::size_t i = 0; i < history_count_; ++i) {
        const engine::EpochStats& e = history_[i];
        pause_sum += e.pause_ticks;
        if (e.pause_ticks > pause_max) pause_max = e.pause_ticks;
        if (e.pause_ticks < pause_min) pause_min = e.pause_ticks;
        pages += e.dirty_pages;
        bytes += e.bytes;
        cow += e.cow_copies;
        backlog += e.backlog_ticks;
        if (config_.epoch_report) {
            println(out_, "checkpoint-epoch: {} dirty={} pause_ticks={} backlog_ticks={} bytes={} full={} delta={} zero={} cow={}",
                    e.epoch, e.dirty_pages, e.pause_ticks, e.backlog_ticks, e.bytes, e.pages_full, e.pages_delta,
                    e.pages_zero, e.cow_copies);
        }
    }
    if (history_count_ == 0) pause_min = 0;
    println(out_, "checkpoint: {} epochs committed (last {}), {} dirty pages, {} stream bytes, {} copy-on-write copies",
            history_count_, committed_seen_, pages, bytes, cow);
    println(out_, "checkpoint: capture pause per epoch min {} avg {} max {} us; waiting for transfers {} us in all; "
                  "{} verifications, {} failed",
            micros(pause_min, khz), micros(history_count_ ? pause_sum / history_count_ : 0, khz), micros(pause_max, khz),
            micros(backlog, khz), verifications_, verification_failures_);
    if (config_.restore_every != 0) println(out_, "checkpoint: {} restores from the backup image", restores_);
}

}  // namespace tandem::sessions
