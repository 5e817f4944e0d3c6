// Dirty tracking's view of the EPT (replication/dirty): the dirty flag and write permission of
// each 4 KiB leaf that maps guest RAM, and INVEPT after changes. A template over the table
// memory, so host tests run it on the recording fake; the machine instantiates it with the
// identity-mapped frames and real INVEPT.
#pragma once

#include <cstdint>

#include "arch-x86_64/vmx/ept.hpp"
#include "replication/dirty/dirty_tracker.hpp"

namespace tandem::x86 {

template <class Memory, class Invalidate>
class EptDirtyControlImpl final : public dirty::EptDirtyControl {
public:
    EptDirtyControlImpl(const EptBuilder<Memory>& ept, Invalidate invalidate) : ept_(&ept), invalidate_(invalidate) {}
    void retarget(const EptBuilder<Memory>& ept) { ept_ = &ept; }

    bool test_and_clear_dirty(std::uint64_t page) override {
        auto slot = ept_->leaf_slot(page * kSmallPage);
        if (!slot) return false;
        std::uint64_t raw = ept_->memory().load(slot->table, slot->index);
        if (!(raw & EptEntry::kDirty)) return false;
        ept_->memory().store(slot->table, slot->index, raw & ~EptEntry::kDirty);
        return true;
    }

    void set_write_protect(std::uint64_t page, bool protect) override {
        auto slot = ept_->leaf_slot(page * kSmallPage);
        if (!slot) return;
        std::uint64_t raw = ept_->memory().load(slot->table, slot->index);
        if (!EptEntry{raw}.present()) return;  // never create an entry: only guest RAM is tracked
        ept_->memory().store(slot->table, slot->index, protect ? raw & ~EptEntry::kWrite : raw | EptEntry::kWrite);
    }

    void invalidate() override { invalidate_(); }

private:
    const EptBuilder<Memory>* ept_;
    Invalidate invalidate_;
};

}  // namespace tandem::x86
