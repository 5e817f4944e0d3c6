// The console's ring: bytes waiting for the UART, first in first out, over fixed storage the
// owner provides (no allocation). The bytes at the back may be held uncommitted — a line still
// being written — until commit() lets them leave or rollback() takes them back, so a line is
// sent whole or not at all; only committed bytes are popped.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

namespace tandem {

class ConsoleRing {
public:
    constexpr explicit ConsoleRing(std::span<char> storage) : data_(storage) {}

    std::size_t capacity() const { return data_.size(); }
    std::size_t size() const { return size_; }            // committed and uncommitted
    std::size_t committed() const { return committed_; }  // what may leave
    std::size_t free() const { return data_.size() - size_; }
    bool empty() const { return size_ == 0; }

    // Appends one byte, uncommitted; false when the ring is full.
    bool push(char c) {
        if (size_ == data_.size()) return false;
        data_[(head_ + size_) % data_.size()] = c;
        ++size_;
        return true;
    }
    // Appends bytes, uncommitted, in at most two copies (the ring may wrap once); false, and
    // nothing appended, when they do not all fit.
    bool push(std::string_view bytes) {
        if (bytes.size() > free()) return false;
        if (bytes.empty()) return true;
        std::size_t at = (head_ + size_) % data_.size();
        std::size_t first = data_.size() - at < bytes.size() ? data_.size() - at : bytes.size();
        __builtin_memcpy(&data_[at], bytes.data(), first);
        __builtin_memcpy(&data_[0], bytes.data() + first, bytes.size() - first);
        size_ += bytes.size();
        return true;
    }
    void commit() { committed_ = size_; }
    void rollback() { size_ = committed_; }
    // The oldest committed byte; only when committed() != 0.
    char front() const { return data_[head_]; }
    void pop() {
        head_ = (head_ + 1) % data_.size();
        --size_;
        --committed_;
    }

private:
    std::span<char> data_;
    std::size_t head_ = 0;
    std::size_t size_ = 0;
    std::size_t committed_ = 0;
};

}  // namespace tandem
