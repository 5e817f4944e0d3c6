#include "replication/dirty/dirty_tracker.hpp"

namespace tandem::dirty {

std::uint32_t drain_pml(PmlLog& log, DirtyBitmap& dirty, std::uint32_t* outside) {
    std::span<const std::uint64_t> entries = log.entries();
    std::uint16_t index = log.index();
    // Valid entries are index+1 .. 511; an index of 512 or more means it wrapped: all are valid.
    std::uint32_t first = index >= PmlLog::kEntries ? 0u : static_cast<std::uint32_t>(index) + 1;
    std::uint32_t taken = 0;
    for (std::uint32_t i = first; i < PmlLog::kEntries && i < entries.size(); ++i) {
        if (!dirty.set(entries[i] >> 12) && outside != nullptr) ++*outside;
        ++taken;
    }
    log.reset_index();
    return taken;
}

void DirtyTracker::begin() {
    current_.clear();
    if (method_ == DirtyTracking::write_protect) {
        ept_.set_write_protect_range(0, current_.pages(), true);
    } else {
        ept_.clear_dirty_range(0, current_.pages(), nullptr);
    }
    if (pml_ != nullptr) pml_->reset_index();
    ept_.invalidate();
}

void DirtyTracker::on_pml_full() {
    if (pml_ != nullptr) drain_pml(*pml_, current_, &outside_);
}

bool DirtyTracker::on_write_fault(std::uint64_t page) {
    if (method_ != DirtyTracking::write_protect) return false;
    current_.set(page);
    return true;
}

void DirtyTracker::harvest(DirtyBitmap& out) {
    out.clear();
    switch (method_) {
        case DirtyTracking::pml:
        case DirtyTracking::automatic:  // resolved before a tracker is made; treated as pml
            if (pml_ != nullptr) drain_pml(*pml_, current_, &outside_);
            // Clear the dirty flag of every logged page so its next write is logged again.
            for (std::uint64_t p = current_.next(0); p < current_.pages(); p = current_.next(p + 1)) {
                ept_.test_and_clear_dirty(p);
            }
            out.copy_from(current_);
            break;
        case DirtyTracking::ad_bits:
            out.copy_from(current_);  // pages the hypervisor wrote (mark())
            ept_.clear_dirty_range(0, out.pages(), &out);
            break;
        case DirtyTracking::write_protect:
            for (std::uint64_t p = current_.next(0); p < current_.pages(); p = current_.next(p + 1)) {
                ept_.set_write_protect(p, true);
            }
            out.copy_from(current_);
            break;
    }
    current_.clear();
    ept_.invalidate();
}

}  // namespace tandem::dirty
