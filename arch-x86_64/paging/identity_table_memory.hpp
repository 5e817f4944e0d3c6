// Translation tables in frames from the allocator, reached through the identity map: the
// Memory policy FourLevelTables uses on the machine (host paging and EPT).
#pragma once

#include <cstddef>
#include <cstdint>

#include "arch-x86_64/paging/four_level_tables.hpp"
#include "hypervisor/memory/frame_allocator.hpp"

namespace tandem::x86 {

class IdentityTableMemory {
public:
    // `limit`: tables must lie below it (while only the boot map exists, 4 GiB).
    IdentityTableMemory(FrameAllocator& frames, std::uint64_t limit = ~std::uint64_t{0})
        : frames_(frames), limit_(limit) {}

    Result<std::uint64_t> allocate_table() {
        auto frame = frames_.allocate(kSmallPage, kSmallPage, limit_);
        if (!frame) return frame.error();
        auto* entries = reinterpret_cast<volatile std::uint64_t*>(*frame);
        for (unsigned i = 0; i < kEntriesPerTable; ++i) entries[i] = 0;
        ++tables_;
        return *frame;
    }
    std::uint64_t load(std::uint64_t table, unsigned i) const {
        return reinterpret_cast<const volatile std::uint64_t*>(table)[i];
    }
    void store(std::uint64_t table, unsigned i, std::uint64_t value) {
        reinterpret_cast<volatile std::uint64_t*>(table)[i] = value;
    }
    std::size_t tables() const { return tables_; }

private:
    FrameAllocator& frames_;
    std::uint64_t limit_;
    std::size_t tables_ = 0;
};

}  // namespace tandem::x86
