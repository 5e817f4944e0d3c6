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

    void set_write_protect_range(std::uint64_t first, std::uint64_t count, bool protect) override {
        for_each_leaf_entry(first, count, [&](std::uint64_t, std::uint64_t table, unsigned index) {
            std::uint64_t raw = ept_->memory().load(table, index);
            if (!EptEntry{raw}.present()) return;
            ept_->memory().store(table, index, protect ? raw & ~EptEntry::kWrite : raw | EptEntry::kWrite);
        });
    }

    void clear_dirty_range(std::uint64_t first, std::uint64_t count, dirty::DirtyBitmap* was_dirty) override {
        for_each_leaf_entry(first, count, [&](std::uint64_t page, std::uint64_t table, unsigned index) {
            std::uint64_t raw = ept_->memory().load(table, index);
            if (!(raw & EptEntry::kDirty)) return;
            ept_->memory().store(table, index, raw & ~EptEntry::kDirty);
            if (was_dirty != nullptr) was_dirty->set(page);
        });
    }

private:
    // visit(page, table, index) for each 4 KiB leaf entry of the range: one walk per leaf table
    // (512 pages) rather than per page. Pages under a 2 MiB mapping or no mapping are skipped,
    // as the single-page forms do.
    template <class Visit>
    void for_each_leaf_entry(std::uint64_t first, std::uint64_t count, Visit visit) {
        constexpr std::uint64_t kPerTable = 512;
        std::uint64_t page = first, end = first + count;
        while (page < end) {
            std::uint64_t table_end = (page / kPerTable + 1) * kPerTable;
            if (table_end > end) table_end = end;
            auto slot = ept_->leaf_slot(page * kSmallPage);
            if (slot) {
                unsigned index = slot->index;
                for (; page < table_end; ++page, ++index) visit(page, slot->table, index);
            }
            page = table_end;
        }
    }

    const EptBuilder<Memory>* ept_;
    Invalidate invalidate_;
};

}  // namespace tandem::x86
