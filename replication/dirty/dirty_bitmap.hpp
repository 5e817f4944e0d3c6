// One bit per guest page (4 KiB), over storage the caller provides (no allocation).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace tandem::dirty {

class DirtyBitmap {
public:
    DirtyBitmap() = default;
    // storage must hold at least (pages + 63) / 64 words; it is cleared.
    DirtyBitmap(std::span<std::uint64_t> storage, std::uint64_t pages) : words_(storage), pages_(pages) {
        words_ = words_.first(static_cast<std::size_t>((pages + 63) / 64));
        clear();
    }
    static constexpr std::size_t words_for(std::uint64_t pages) { return static_cast<std::size_t>((pages + 63) / 64); }

    std::uint64_t pages() const { return pages_; }
    bool test(std::uint64_t page) const { return page < pages_ && ((words_[page / 64] >> (page % 64)) & 1); }
    // Returns false (and changes nothing) for a page outside the bitmap.
    bool set(std::uint64_t page) {
        if (page >= pages_) return false;
        words_[page / 64] |= 1ull << (page % 64);
        return true;
    }
    void reset(std::uint64_t page) {
        if (page < pages_) words_[page / 64] &= ~(1ull << (page % 64));
    }
    void clear() {
        for (auto& w : words_) w = 0;
    }
    void set_all() {
        for (auto& w : words_) w = ~0ull;
        if (pages_ % 64 != 0 && !words_.empty()) words_.back() = (1ull << (pages_ % 64)) - 1;
    }
    std::uint64_t count() const {
        std::uint64_t n = 0;
        for (auto w : words_) n += static_cast<std::uint64_t>(__builtin_popcountll(w));
        return n;
    }
    // The first set page at or after `from`, or pages() if none.
    std::uint64_t next(std::uint64_t from) const {
        if (from >= pages_) return pages_;
        std::size_t i = static_cast<std::size_t>(from / 64);
        std::uint64_t w = words_[i] & (~0ull << (from % 64));
        while (w == 0) {
            if (++i == words_.size()) return pages_;
            w = words_[i];
        }
        std::uint64_t page = i * 64 + static_cast<std::uint64_t>(__builtin_ctzll(w));
        return page < pages_ ? page : pages_;
    }
    // this = this | other (same size).
    void merge(const DirtyBitmap& other) {
        for (std::size_t i = 0; i < words_.size() && i < other.words_.size(); ++i) words_[i] |= other.words_[i];
    }
    void copy_from(const DirtyBitmap& other) {
        for (std::size_t i = 0; i < words_.size() && i < other.words_.size(); ++i) words_[i] = other.words_[i];
    }

private:
    std::span<std::uint64_t> words_;
    std::uint64_t pages_ = 0;
};

}  // namespace tandem::dirty
