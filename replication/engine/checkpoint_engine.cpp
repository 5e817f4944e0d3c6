#include "replication/engine/checkpoint_engine.hpp"

namespace tandem::engine {
namespace {
constexpr std::uint64_t kPage = checkpoint::kPageSize;
}  // namespace

std::uint64_t CheckpointEngine::captured_state_digest() const { return cpu_.digest(); }

Status CheckpointEngine::start() {
    for (auto& slot : m_.slot_of_page) slot = kNoSlot;
    tracker_.begin();
    return capture(true);
}

void CheckpointEngine::abandon() {
    if (transferring_ && cow_epoch_ && !tracker_.protects_pages()) {
        // Only checkpointing protects guest RAM in this method: everything may be writable again.
        ept_.set_write_protect_range(0, m_.sending.pages(), false);
        ept_.invalidate();
    }
    for (auto& slot : m_.slot_of_page) slot = kNoSlot;
    slots_used_ = 0;
    transferring_ = false;
}

Status CheckpointEngine::epoch_boundary() {
    std::uint64_t begin = clock_.now();
    // A transfer still running at the next boundary is completed now: the backup must be at
    // most one epoch behind. The guest waits for that too (reported as backlog).
    if (transferring_) {
        if (auto s = transfer(~0ull); !s) return s;
    }
    std::uint64_t backlog = clock_.now() - begin;
    if (auto s = capture(false); !s) return s;
    stats_.backlog_ticks = backlog;
    return success();
}

Status CheckpointEngine::capture(bool everything) {
    std::uint64_t begin = clock_.now();
    // The first epoch (everything, for a peer holding nothing) is always copy-on-write and
    // encoded against an all-zero reference: copying or clearing all of guest RAM during the
    // pause would stop the guest, and a peer waiting on the link, for a whole memory copy.
    full_epoch_ = everything;
    cow_epoch_ = everything || mode_ == CaptureMode::cow;
    if (everything) {
        m_.sending.set_all();
    } else {
        tracker_.harvest(m_.sending);
    }
    stats_ = {};
    stats_.epoch = next_epoch_;
    stats_.dirty_pages = m_.sending.count();

    if (auto s = state_.capture_cpu(cpu_); !s) return s;
    device_count_ = 0;
    for (std::size_t i = 0; i < state_.device_count() && i < checkpoint::BackupImage::kMaxDevices; ++i) {
        StatefulDevice& d = state_.device(i);
        checkpoint::DeviceStateBlob& blob = devices_[device_count_++];
        ByteWriter w({blob.bytes, sizeof(blob.bytes)});
        d.save_state(w);
        if (w.overflow()) return Error::of("checkpoint: device state too large", d.state_id());
        blob.id = d.state_id();
        blob.version = d.state_version();
        blob.size = static_cast<std::uint16_t>(w.size());
    }

    slots_used_ = 0;
    std::uint64_t pages = m_.sending.pages();
    if (!cow_epoch_) {
        std::uint64_t copied = 0;
        for (std::uint64_t p = m_.sending.next(0); p < pages; p = m_.sending.next(p + 1)) {
            if (auto s = copy_page_to_slot(p); !s) return s;
            if (keepalive_ != nullptr && ++copied % kKeepaliveEvery == 0) keepalive_->keepalive();
        }
    } else {
        // Copy-on-write: protect the set; the guest may run on at once.
        if (tracker_.protects_pages()) {
            // Already protected by the tracker (every page since begin() or the harvest).
        } else if (everything) {
            ept_.set_write_protect_range(0, pages, true);
        } else {
            for (std::uint64_t p = m_.sending.next(0); p < pages; p = m_.sending.next(p + 1)) {
                ept_.set_write_protect(p, true);
            }
        }
        ept_.invalidate();
    }
    if (auto s = encoder_.begin(next_epoch_, m_.guest.size()); !s) return s;
    ++next_epoch_;
    cursor_ = 0;
    transferring_ = true;
    stats_.pause_ticks = clock_.now() - begin;
    return success();
}

Status CheckpointEngine::copy_page_to_slot(std::uint64_t page) {
    if (slots_used_ >= m_.staging.size() / kPage || page >= m_.slot_of_page.size()) {
        return Error::of("checkpoint: staging area exhausted", page);
    }
    if (auto s = m_.guest.read(page * kPage, page_); !s) return s;
    if (auto s = m_.staging.write(static_cast<std::uint64_t>(slots_used_) * kPage, page_); !s) return s;
    m_.slot_of_page[page] = slots_used_++;
    return success();
}

Status CheckpointEngine::transfer(std::uint64_t max_pages) {
    if (!transferring_) return success();
    std::uint64_t pages = m_.sending.pages();
    std::uint64_t done = 0;
    while (done < max_pages) {
        std::uint64_t p = m_.sending.next(cursor_);
        if (p >= pages) break;
        std::uint32_t slot = m_.slot_of_page[p];
        Status s = slot != kNoSlot ? m_.staging.read(static_cast<std::uint64_t>(slot) * kPage, page_)
                                   : m_.guest.read(p * kPage, page_);
        if (!s) return s;
        if (full_epoch_) {
            __builtin_memset(reference_page_, 0, kPage);  // the peer starts from nothing
        } else if (auto r = m_.reference.read(p * kPage, reference_page_); !r) {
            return r;
        }
        if (auto e = encoder_.page(p * kPage, page_, reference_page_, deltas_); !e) return e;
        if (auto w = m_.reference.write(p * kPage, reference_page_); !w) return w;
        if (slot != kNoSlot) {
            m_.slot_of_page[p] = kNoSlot;
        } else if (cow_epoch_ && !tracker_.protects_pages()) {
            ept_.set_write_protect(p, false);  // encoded: the guest may write it freely again
        }
        cursor_ = p + 1;
        ++done;
        if (keepalive_ != nullptr && done % kKeepaliveEvery == 0) keepalive_->keepalive();
    }
    if (m_.sending.next(cursor_) >= pages) return finish_epoch();
    return success();
}

Status CheckpointEngine::finish_epoch() {
    if (auto s = encoder_.cpu(cpu_); !s) return s;
    for (std::size_t i = 0; i < device_count_; ++i) {
        const checkpoint::DeviceStateBlob& d = devices_[i];
        if (auto s = encoder_.device(d.id, d.version, {d.bytes, d.size}); !s) return s;
    }
    if (auto s = encoder_.end(); !s) return s;
    const checkpoint::EncoderStats& e = encoder_.stats();
    stats_.bytes = e.bytes;
    stats_.pages_full = e.pages_full;
    stats_.pages_delta = e.pages_delta;
    stats_.pages_zero = e.pages_zero;
    completed_epoch_ = encoder_.epoch();
    completed_stats_ = stats_;
    has_completed_ = true;
    transferring_ = false;
    return success();
}

bool CheckpointEngine::on_write_fault(std::uint64_t gpa) {
    std::uint64_t page = gpa / kPage;
    if (page >= m_.sending.pages()) return false;
    // Guest RAM is only ever write-protected by checkpointing, so the fault is ours. Copy-on-
    // write first: the page belongs to the epoch being sent and is not encoded yet.
    if (cow_epoch_ && transferring_ && m_.sending.test(page) && page >= cursor_ && m_.slot_of_page[page] == kNoSlot) {
        if (!copy_page_to_slot(page)) return false;
        ++stats_.cow_copies;
    }
    tracker_.on_write_fault(page);  // write-protection tracking: the page is dirty now
    ept_.set_write_protect(page, false);
    return true;
}

void CheckpointEngine::before_write(std::uint64_t gpa, std::uint64_t length) {
    for (std::uint64_t page = gpa / kPage; page <= (gpa + length - 1) / kPage && page < m_.sending.pages(); ++page) {
        if (cow_epoch_ && transferring_ && m_.sending.test(page) && page >= cursor_ &&
            m_.slot_of_page[page] == kNoSlot) {
            if (copy_page_to_slot(page)) ++stats_.cow_copies;
        }
        tracker_.mark(page);
    }
}

}  // namespace tandem::engine
