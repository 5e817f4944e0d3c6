// Helpers for the checkpoint tests: guest memories over host buffers (in two chunks, so every
// test also crosses a chunk boundary), random page contents, a backup side (BackupImage +
// StreamDecoder over its own memories) and record sinks.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "hypervisor/vm/guest_memory.hpp"
#include "replication/checkpoint/backup_image.hpp"
#include "replication/checkpoint/decoder.hpp"
#include "replication/checkpoint/encoder.hpp"
#include "replication/engine/memory_digest.hpp"
#include "vmx_fake_host_memory.hpp"

namespace ckpt {

using Bytes = std::vector<std::uint8_t>;
using Rng = std::mt19937_64;
inline constexpr std::uint64_t kPage = tandem::checkpoint::kPageSize;

// The message of a failed status, "" for success (so CHECK(err(s) == "...") reads well).
inline std::string err(const tandem::Status& s) { return s ? std::string() : std::string(s.error().message); }

inline std::uint64_t below(Rng& rng, std::uint64_t n) { return n == 0 ? 0 : rng() % n; }

inline void fill_random(std::span<std::uint8_t> bytes, Rng& rng) {
    for (auto& b : bytes) b = static_cast<std::uint8_t>(rng());
}
// Changes `count` random bytes (each to a different value).
inline void change_bytes(std::span<std::uint8_t> bytes, Rng& rng, std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) {
        auto& b = bytes[below(rng, bytes.size())];
        b = static_cast<std::uint8_t>(b ^ (1 + below(rng, 255)));
    }
}

// Guest RAM of `pages` pages: the first half in one host region, the rest in another, so
// GuestMemory has two chunks and page accesses near the middle cross from one to the other.
class TestGuest {
public:
    static constexpr std::uint64_t kHostA = 0x1000'0000, kHostB = 0x3000'0000;

    explicit TestGuest(std::uint64_t pages) : pages_(pages), memory_(host_) {
        std::uint64_t first = (pages + 1) / 2;
        host_.add(kHostA, first * kPage);
        REQUIRE(memory_.append(kHostA, first * kPage));
        if (pages > first) {
            host_.add(kHostB, (pages - first) * kPage);
            REQUIRE(memory_.append(kHostB, (pages - first) * kPage));
        }
    }
    TestGuest(const TestGuest&) = delete;
    TestGuest& operator=(const TestGuest&) = delete;

    tandem::GuestMemory& memory() { return memory_; }
    std::uint64_t pages() const { return pages_; }
    // The host bytes behind one guest page.
    std::span<std::uint8_t> page(std::uint64_t p) {
        REQUIRE(p < pages_);
        auto hpa = memory_.host_address(p * kPage);
        REQUIRE(hpa);
        std::uint8_t* at = host_.at(*hpa, kPage);
        REQUIRE(at != nullptr);
        return {at, kPage};
    }
    Bytes snapshot() const {
        Bytes out(pages_ * kPage);
        REQUIRE(memory_.read(0, out));
        return out;
    }
    void restore(const Bytes& bytes) { REQUIRE(memory_.write(0, bytes)); }
    std::uint64_t digest() const {
        auto d = tandem::engine::memory_digest(memory_);
        REQUIRE(d);
        return *d;
    }

private:
    std::uint64_t pages_;
    test::VectorHostMemory host_;
    tandem::GuestMemory memory_;
};

// The receiving side: committed image, staging, bookkeeping, decoder.
struct BackupRig {
    explicit BackupRig(std::uint64_t pages, std::uint64_t staging_pages = 0)
        : image(pages),
          staging(staging_pages == 0 ? pages : staging_pages),
          staged_gpa(staging.pages()),
          staged_bits(tandem::dirty::DirtyBitmap::words_for(pages)) {
        backup = std::make_unique<tandem::checkpoint::BackupImage>(image.memory(), staging.memory(), staged_gpa,
                                                                    staged_bits);
        decoder = std::make_unique<tandem::checkpoint::StreamDecoder>(*backup);
    }
    tandem::Status feed(std::span<const std::uint8_t> bytes) { return decoder->feed(bytes); }
    // Feeds in random pieces of 1 byte up to max_chunk (0: up to everything); stops at an error.
    tandem::Status feed_chunked(std::span<const std::uint8_t> bytes, Rng& rng, std::size_t max_chunk = 0) {
        std::size_t limit = max_chunk == 0 ? bytes.size() : max_chunk;
        for (std::size_t pos = 0; pos < bytes.size();) {
            std::size_t n = std::min<std::size_t>(1 + below(rng, limit), bytes.size() - pos);
            if (auto s = decoder->feed(bytes.subspan(pos, n)); !s) return s;
            pos += n;
        }
        return tandem::success();
    }

    TestGuest image, staging;
    std::vector<std::uint64_t> staged_gpa, staged_bits;
    std::unique_ptr<tandem::checkpoint::BackupImage> backup;
    std::unique_ptr<tandem::checkpoint::StreamDecoder> decoder;
};

// Collects everything written; optionally fails the write number `fail_at` (0-based).
class VectorSink final : public tandem::checkpoint::RecordSink {
public:
    tandem::Status write(std::span<const std::uint8_t> bytes) override {
        if (writes_++ == fail_at) return tandem::Error::of("test sink: link down");
        data.insert(data.end(), bytes.begin(), bytes.end());
        return tandem::success();
    }
    Bytes data;
    std::uint64_t fail_at = ~0ull;

private:
    std::uint64_t writes_ = 0;
};

// Feeds a decoder directly (as the loopback session does) and counts the bytes.
class DecoderSink final : public tandem::checkpoint::RecordSink {
public:
    explicit DecoderSink(tandem::checkpoint::StreamDecoder& decoder) : decoder_(decoder) {}
    tandem::Status write(std::span<const std::uint8_t> bytes) override {
        bytes_ += bytes.size();
        return decoder_.feed(bytes);
    }
    std::uint64_t bytes() const { return bytes_; }

private:
    tandem::checkpoint::StreamDecoder& decoder_;
    std::uint64_t bytes_ = 0;
};

// Field-by-field equality of two CPU states (keys in order, values, XSAVE image).
inline void check_same_cpu(const tandem::checkpoint::CpuState& a, const tandem::checkpoint::CpuState& b) {
    REQUIRE(a.field_count() == b.field_count());
    for (std::size_t i = 0; i < a.field_count(); ++i) {
        CHECK(a.key_at(i) == b.key_at(i));
        CHECK(a.value_at(i) == b.value_at(i));
    }
    CHECK(Bytes(a.xsave().begin(), a.xsave().end()) == Bytes(b.xsave().begin(), b.xsave().end()));
    CHECK(a.digest() == b.digest());
}

// A random CPU state with `fields` valid keys (VMCS encodings and registers) and an XSAVE image.
inline void random_cpu(tandem::checkpoint::CpuState& out, Rng& rng, std::size_t fields, std::size_t xsave) {
    namespace keys = tandem::checkpoint::cpu_state_keys;
    out.clear();
    while (out.field_count() < fields) {
        std::uint32_t key = below(rng, 2) ? static_cast<std::uint32_t>(below(rng, 0x4000) * 2)
                                          : static_cast<std::uint32_t>(keys::gpr_base + below(rng, keys::limit - keys::gpr_base));
        REQUIRE(out.set(key, rng()));
    }
    Bytes image(xsave);
    fill_random(image, rng);
    REQUIRE(out.set_xsave(image));
}

}  // namespace ckpt
