// A PhysicalReader over a byte vector placed at a physical base address. Each request gets a
// fresh heap copy of exactly the bytes asked for, so ASan reports a parser reading past what it
// asked for; requests outside the vector get an empty span.
#pragma once

#include <cstdint>
#include <deque>
#include <span>
#include <string_view>
#include <vector>

#include "arch-x86_64/boot/multiboot1.hpp"

namespace test {

class FakePhysicalMemory final : public tandem::boot::PhysicalReader {
public:
    FakePhysicalMemory(std::uint64_t base, std::size_t size) : base_(base), data_(size, 0) {}
    FakePhysicalMemory(std::uint64_t base, std::vector<std::uint8_t> data) : base_(base), data_(std::move(data)) {}

    std::span<const std::uint8_t> bytes(std::uint64_t phys, std::size_t length) const override {
        if (phys < base_ || phys - base_ > data_.size() || length > data_.size() - (phys - base_)) return {};
        auto from = data_.begin() + static_cast<std::ptrdiff_t>(phys - base_);
        copies_.emplace_back(from, from + static_cast<std::ptrdiff_t>(length));
        return copies_.back();
    }

    std::uint64_t base() const { return base_; }
    std::uint64_t end() const { return base_ + data_.size(); }

    void put8(std::uint64_t phys, std::uint8_t v) { data_.at(phys - base_) = v; }
    void put32(std::uint64_t phys, std::uint32_t v) {
        for (unsigned i = 0; i < 4; ++i) put8(phys + i, static_cast<std::uint8_t>(v >> (8 * i)));
    }
    void put64(std::uint64_t phys, std::uint64_t v) {
        for (unsigned i = 0; i < 8; ++i) put8(phys + i, static_cast<std::uint8_t>(v >> (8 * i)));
    }
    void put_string(std::uint64_t phys, std::string_view s, bool terminate = true) {
        for (std::size_t i = 0; i < s.size(); ++i) put8(phys + i, static_cast<std::uint8_t>(s[i]));
        if (terminate) put8(phys + s.size(), 0);
    }
    void fill(std::uint64_t phys, std::size_t n, std::uint8_t v) {
        for (std::size_t i = 0; i < n; ++i) put8(phys + i, v);
    }

private:
    std::uint64_t base_;
    std::vector<std::uint8_t> data_;
    mutable std::deque<std::vector<std::uint8_t>> copies_;
};

}  // namespace test
