#include "arch-x86_64/boot/checkpoint_loopback.hpp"

#include "arch-x86_64/cpu/intrinsics.hpp"
#include "arch-x86_64/paging/identity_window.hpp"
#include "arch-x86_64/vmx/cpu_state_capture.hpp"
#include "replication/engine/memory_digest.hpp"

namespace tandem::x86 {
namespace {

constexpr std::uint64_t kPage = checkpoint::kPageSize;

Result<std::span<std::uint8_t>> zeroed(FrameAllocator& frames, std::uint64_t bytes) {
    std::uint64_t rounded = align_up(bytes, kPageSize);
    auto at = frames.allocate(rounded);
    if (!at) return at.error();
    __builtin_memset(reinterpret_cast<void*>(*at), 0, rounded);
    return std::span<std::uint8_t>{reinterpret_cast<std::uint8_t*>(*at), static_cast<std::size_t>(rounded)};
}

template <class T>
Result<std::span<T>> zeroed_array(FrameAllocator& frames, std::uint64_t count) {
    auto bytes = zeroed(frames, count * sizeof(T));
    if (!bytes) return bytes.error();
    return std::span<T>{reinterpret_cast<T*>(bytes->data()), static_cast<std::size_t>(count)};
}

Result<GuestMemory*> memory_like(FrameAllocator& frames, std::uint64_t size, GuestMemory& storage) {
    if (auto s = allocate_guest_memory(frames, size, storage); !s) return s.error();
    return &storage;
}

std::uint64_t micros(std::uint64_t ticks, std::uint64_t khz) { return khz == 0 ? 0 : ticks * 1000 / khz; }

}  // namespace

std::uint64_t LoopbackSession::now() const { return rdtsc(); }

Status LoopbackSession::capture_cpu(checkpoint::CpuState& out) {
    return capture_cpu_state(vm_.vmcs(), vm_.vcpu().regs(), vm_.platform(), out);
}

Status LoopbackSession::write(std::span<const std::uint8_t> bytes) { return decoder_->feed(bytes); }

Status LoopbackSession::start(const LoopbackConfig& config, FrameAllocator& frames) {
    config_ = config;
    std::uint64_t size = primary_.size();
    std::uint64_t pages = size / kPage;
    static GuestMemory reference(identity_window()), staging(identity_window()), backup(identity_window()),
        backup_staging(identity_window());
    auto r = memory_like(frames, size, reference);
    auto s = memory_like(frames, size, staging);
    auto b = memory_like(frames, size, backup);
    auto bs = memory_like(frames, size, backup_staging);
    auto slots = zeroed_array<std::uint32_t>(frames, pages);
    auto staged_gpa = zeroed_array<std::uint64_t>(frames, pages);
    auto bits = zeroed_array<std::uint64_t>(frames, 3 * dirty::DirtyBitmap::words_for(pages));
    auto digests = zeroed_array<std::uint64_t>(frames, 2 * pages);
    if (!r || !s || !b || !bs || !slots || !staged_gpa || !bits || !digests) {
        return Error::of("checkpoint: not enough memory for the reference copy, staging and the backup image "
                         "(about 5 times guest_mem in all); bytes of guest RAM",
                         size);
    }
    reference_ = *r;
    staging_ = *s;
    backup_memory_ = *b;
    backup_staging_ = *bs;
    std::size_t words = dirty::DirtyBitmap::words_for(pages);
    current_ = dirty::DirtyBitmap(bits->subspan(0, words), pages);
    sending_ = dirty::DirtyBitmap(bits->subspan(words, words), pages);
    primary_page_digests_ = digests->subspan(0, pages);
    backup_page_digests_ = digests->subspan(pages, pages);

    static dirty::DirtyTracker tracker(config.dirty, vm_.dirty_control(), vm_.pml_log(), current_);
    static checkpoint::EpochEncoder encoder(*this);
    static checkpoint::BackupImage image(*backup_memory_, *backup_staging_, *staged_gpa, bits->subspan(2 * words, words));
    static checkpoint::StreamDecoder decoder(image);
    static engine::CheckpointEngine engine(engine::EngineMemory{primary_, *reference_, *staging_, *slots, sending_},
                                           tracker, vm_.dirty_control(), *this, encoder, *this, config.capture, true);
    tracker_ = &tracker;
    encoder_ = &encoder;
    backup_ = &image;
    decoder_ = &decoder;
    engine_ = &engine;

    epoch_ticks_ = config.tsc_khz * config.epoch_ms;
    // Timer slices of 1 ms: the transfer of an epoch advances in slices while the guest runs.
    vm_.vcpu().set_timer_reload(config.tsc_khz);
    vm_.vcpu().set_hooks(this);
    primary_.set_write_observer(&engine);
    active_ = true;
    print(out_, "checkpoint: local backup image, epochs of {} ms, dirty tracking by {}, capture by {}{}", config.epoch_ms,
          config.dirty == DirtyTracking::pml       ? "PML"
          : config.dirty == DirtyTracking::ad_bits ? "EPT dirty-bit scan"
                                                   : "EPT write-protection",
          config.capture == engine::CaptureMode::cow ? "copy-on-write" : "copy during the pause",
          config.failover_at != 0 ? "; failover planned" : "");
    if (config.restore_every != 0) print(out_, "; the guest restored from the backup image every {} epochs", config.restore_every);
    out_.write("\n");
    if (auto st = engine.start(); !st) return st;
    arm_verify();
    next_epoch_at_ = now() + epoch_ticks_;
    return success();
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
    auto digest = engine::memory_digest(primary_, primary_page_digests_);
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
    if (!active_) {
        println(out, "checkpoint: not active (no backup: the guest runs unprotected)");
        return;
    }
    println(out, "checkpoint: epoch {} in progress; backup committed epoch {}{}", engine_->epochs_started(),
            committed_seen_, committed_any_ ? "" : " (none yet)");
}

void LoopbackSession::on_timer(Vcpu&) {
    if (!active_) return;
    if (failover_requested_) {
        failover_requested_ = false;
        println(out_, "failover: requested on the console");
        return failover();
    }
    if (engine_->transferring()) {
        std::uint64_t until = now() + config_.tsc_khz * kSliceSharePercent / 100;  // 1 ms slices
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
    Vcpu& vcpu = vm_.vcpu();
    if (auto s = restore_cpu_state(backup_->committed_cpu(), vm_.vmcs(), vcpu.regs(), vm_.platform(), vcpu.config().cr);
        !s) {
        return fail("restoring the vCPU from the backup image", s.error());
    }
    if (auto s = restore_devices(); !s) return fail("restoring the devices from the backup image", s.error());
    // The pages of the epoch (still in sending_) come back from the image. Not through the
    // engine: these copies are not guest writes, and the next epoch must not carry them.
    primary_.set_write_observer(nullptr);
    Status copied = success();
    std::uint64_t pages = sending_.pages();
    for (std::uint64_t p = sending_.next(0); p < pages && copied; p = sending_.next(p + 1)) {
        copied = backup_->image().read(p * kPage, page_);
        if (copied) copied = primary_.write(p * kPage, page_);
    }
    primary_.set_write_observer(engine_);
    if (!copied) return fail("copying pages from the backup image", copied.error());
    ++restores_;
}

// Every saved model must be one of ours and take its state: one left out would keep running on
// from a state the backup does not have.
Status LoopbackSession::restore_devices() {
    std::span<const checkpoint::DeviceStateBlob> saved = backup_->committed_devices();
    if (saved.size() != device_count_) {
        return Error::of("checkpoint: the backup image holds the state of a different number of devices", saved.size());
    }
    for (const checkpoint::DeviceStateBlob& d : saved) {
        StatefulDevice* device = nullptr;
        for (std::size_t i = 0; i < device_count_ && device == nullptr; ++i) {
            if (devices_[i]->state_id() == d.id) device = devices_[i];
        }
        if (device == nullptr) return Error::of("checkpoint: the backup image holds the state of an unknown device", d.id);
        if (auto s = device->restore_state(d.version, {d.bytes, d.size}); !s) return s;  // its errors name it
    }
    return success();
}

bool LoopbackSession::on_ram_write_fault(Vcpu&, std::uint64_t gpa) {
    if (!active_) {
        // Checkpointing stopped with pages still protected: just let the guest write.
        vm_.dirty_control().set_write_protect(gpa / kPage, false);
        return true;
    }
    return engine_->on_write_fault(gpa);
}

void LoopbackSession::on_pml_full(Vcpu&) {
    if (active_) {
        tracker_->on_pml_full();
    } else if (dirty::PmlLog* log = vm_.pml_log()) {
        log->reset_index();
    }
}

void LoopbackSession::failover() {
    Vcpu& vcpu = vm_.vcpu();
    std::uint64_t at = engine_->epochs_started();
    active_ = false;
    if (!backup_->has_committed()) {
        println(out_, "failover: the primary stopped at epoch {}, but the backup has no committed epoch yet", at);
        return vcpu.stop("failover impossible: nothing committed");
    }
    std::uint64_t epoch = backup_->committed_epoch();
    println(out_, "failover: primary stopped in epoch {} (its uncommitted work is discarded); backup committed epoch {}",
            at, epoch);
    backup_->abandon_epoch();
    std::uint64_t primary_rip = vm_.vmcs().read(vmcs::guest_rip);
    if (auto s = vm_.use_memory(backup_->image()); !s) return fail("switching to the backup image", s.error());
    if (auto s = restore_cpu_state(backup_->committed_cpu(), vm_.vmcs(), vcpu.regs(), vm_.platform(), vcpu.config().cr); !s) {
        fail("restoring the vCPU", s.error());
        return vcpu.stop("failover failed: vCPU state could not be restored");
    }
    if (auto s = restore_devices(); !s) return fail("restoring the devices", s.error());
    primary_.set_write_observer(nullptr);
    // Device models that touch guest memory now work on the backup's image.
    for (std::size_t i = 0; i < memory_user_count_; ++i) memory_users_[i]->set_memory(backup_->image());
    println(out_, "failover: the guest resumes from the backup's epoch {} at rip {} (the primary was at {}), "
                  "unprotected (no backup left)",
            epoch, hex(vm_.vmcs().read(vmcs::guest_rip)), hex(primary_rip));
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
    std::uint64_t khz = config_.tsc_khz;
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

}  // namespace tandem::x86
