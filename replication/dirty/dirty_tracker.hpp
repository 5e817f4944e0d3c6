// Which guest pages were written during an epoch (DESIGN §3 step 2), by one of three methods the
// hardware may offer (Intel SDM Vol. 3C §29.3.5, §29.3.6):
//   pml  Page-Modification Logging: the CPU logs the guest-physical address of every page whose
//        EPT dirty flag it sets into a 512-entry log; a full log exits ("PML full").
//   ad   EPT accessed/dirty flags, scanned at the end of each epoch.
//   wp   EPT write-protection: the first write to each page per epoch faults (EPT violation).
// In every method the EPT must map guest RAM with 4 KiB leaves (one dirty flag per page).
#pragma once

#include <cstdint>
#include <span>

#include "hypervisor/config/vocabulary.hpp"
#include "replication/dirty/dirty_bitmap.hpp"

namespace tandem::dirty {

// What dirty tracking needs from the EPT of the guest's RAM (arch-x86_64 implements it).
class EptDirtyControl {
public:
    virtual bool test_and_clear_dirty(std::uint64_t page) = 0;
    virtual void set_write_protect(std::uint64_t page, bool protect) = 0;
    // Flushes cached EPT translations (INVEPT) after entries changed.
    virtual void invalidate() = 0;

    // The same over pages [first, first + count). A join touches every page of guest RAM in one
    // pause and an A/D scan every page at each epoch: an implementation walks each leaf table
    // once instead of once per page (these defaults take the single-page path).
    virtual void set_write_protect_range(std::uint64_t first, std::uint64_t count, bool protect) {
        for (std::uint64_t p = first; p < first + count; ++p) set_write_protect(p, protect);
    }
    // Clears the dirty flags of the range; the pages that had one are set in *was_dirty if given.
    virtual void clear_dirty_range(std::uint64_t first, std::uint64_t count, DirtyBitmap* was_dirty) {
        for (std::uint64_t p = first; p < first + count; ++p) {
            if (test_and_clear_dirty(p) && was_dirty != nullptr) was_dirty->set(p);
        }
    }

protected:
    ~EptDirtyControl() = default;
};

// The page-modification log (SDM Vol. 3C §29.3.6): 512 guest-physical addresses written from
// entry 511 downwards; the index names the next free entry and wraps past 0 when full.
class PmlLog {
public:
    static constexpr std::uint16_t kEntries = 512;
    virtual std::span<const std::uint64_t> entries() const = 0;
    virtual std::uint16_t index() const = 0;
    virtual void reset_index() = 0;  // back to 511: the log is empty

protected:
    ~PmlLog() = default;
};

// Moves the log's valid entries into `dirty` and empties the log. Returns how many entries were
// taken; an address outside the bitmap (outside guest RAM) is counted in *outside.
std::uint32_t drain_pml(PmlLog& log, DirtyBitmap& dirty, std::uint32_t* outside = nullptr);

class DirtyTracker {
public:
    DirtyTracker(DirtyTracking method, EptDirtyControl& ept, PmlLog* pml, DirtyBitmap& current)
        : method_(method), ept_(ept), pml_(pml), current_(current) {}

    DirtyTracking method() const { return method_; }
    // Every page starts clean: clear dirty flags / write-protect everything.
    void begin();
    // PML full exit: drain the log.
    void on_pml_full();
    // A write hit a write-protected page: true if this method protected it (the page is now
    // dirty for this epoch); the caller makes the page writable again.
    bool on_write_fault(std::uint64_t page);
    // The hypervisor wrote the page itself (bypassing EPT): dirty for this epoch in any method.
    void mark(std::uint64_t page) { current_.set(page); }
    // Whether pages must stay write-protected between epochs (true for wp).
    bool protects_pages() const { return method_ == DirtyTracking::write_protect; }
    // End of epoch: `out` receives the pages written since the last harvest (it is cleared
    // first); tracking is re-armed for the next epoch.
    void harvest(DirtyBitmap& out);
    std::uint64_t pml_entries_outside_ram() const { return outside_; }

private:
    DirtyTracking method_;
    EptDirtyControl& ept_;
    PmlLog* pml_;
    DirtyBitmap& current_;  // pml and wp accumulate here during an epoch
    std::uint32_t outside_ = 0;
};

}  // namespace tandem::dirty
