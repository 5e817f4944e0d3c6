// Builds checkpoint streams record by record (record_format.hpp), independently of the encoder,
// with a correct digest and counts unless a test overrides them: how the rejection tests craft
// streams that are well-formed except for the one thing under test.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "replication/checkpoint/stream_digest.hpp"
#include "replication/checkpoint/cpu_state.hpp"
#include "replication/checkpoint/record_format.hpp"

namespace ckpt {

// Header fields a test may set to anything.
struct RecordHeader {
    std::uint8_t flags = 0;
    std::uint16_t reserved = 0;
    std::optional<std::uint32_t> length;  // instead of the payload's size
};
// EPOCH_END fields a test may override (otherwise what the records sent so far give).
struct EndFields {
    std::optional<std::uint64_t> epoch;
    std::optional<std::uint32_t> pages, records;
    std::optional<std::uint64_t> digest;
};

class StreamBuilder {
public:
    // Any record; `type` need not be a known one. Counts and digest follow the format.
    StreamBuilder& record(std::uint8_t type, std::span<const std::uint8_t> payload, const RecordHeader& h = {}) {
        std::vector<std::uint8_t> r;
        r.push_back(type);
        r.push_back(h.flags);
        le(r, h.reserved, 2);
        le(r, h.length.value_or(static_cast<std::uint32_t>(payload.size())), 4);
        r.insert(r.end(), payload.begin(), payload.end());
        if (type == kBegin) {
            digest_ = tandem::kFnv64Offset;
            records_ = 0;
            pages_ = 0;
        }
        if (type != kEnd) {
            digest_ = tandem::checkpoint::stream_digest(r.data(), r.size(), digest_);
            ++records_;
        }
        if (type >= 2 && type <= 4) ++pages_;
        bytes.insert(bytes.end(), r.begin(), r.end());
        return *this;
    }

    StreamBuilder& begin(std::uint64_t epoch, std::uint64_t ram, std::uint32_t page_size = tandem::checkpoint::kPageSize,
                         std::uint32_t version = tandem::checkpoint::kFormatVersion) {
        epoch_ = epoch;
        std::vector<std::uint8_t> p;
        le(p, version, 4);
        le(p, epoch, 8);
        le(p, ram, 8);
        le(p, page_size, 4);
        return record(kBegin, p);
    }
    StreamBuilder& full(std::uint64_t gpa, std::span<const std::uint8_t> page) { return page_record(2, gpa, page); }
    StreamBuilder& zero(std::uint64_t gpa) { return page_record(3, gpa, {}); }
    StreamBuilder& delta(std::uint64_t gpa, std::span<const std::uint8_t> runs) { return page_record(4, gpa, runs); }
    StreamBuilder& cpu(const tandem::checkpoint::CpuState& state) {
        std::vector<std::uint8_t> p(tandem::checkpoint::kCpuStateMaxPayload);
        tandem::ByteWriter w(p);
        state.encode(w);
        p.resize(w.size());
        return record(5, p);
    }
    StreamBuilder& device(std::uint16_t id, std::uint16_t version, std::span<const std::uint8_t> state) {
        std::vector<std::uint8_t> p;
        le(p, id, 2);
        le(p, version, 2);
        p.insert(p.end(), state.begin(), state.end());
        return record(6, p);
    }
    StreamBuilder& end(const EndFields& f = {}) {
        std::vector<std::uint8_t> p;
        le(p, f.epoch.value_or(epoch_), 8);
        le(p, f.pages.value_or(pages_), 4);
        le(p, f.records.value_or(records_ + 1), 4);
        le(p, f.digest.value_or(digest_), 8);
        return record(kEnd, p);
    }

    // A run list for a delta: (skip, length, bytes).
    static void run(std::vector<std::uint8_t>& out, std::uint16_t skip, std::uint16_t length, std::uint8_t value) {
        le(out, skip, 2);
        le(out, length, 2);
        out.insert(out.end(), length, value);
    }
    static void le(std::vector<std::uint8_t>& out, std::uint64_t v, unsigned n) {
        for (unsigned i = 0; i < n; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
    }

    std::vector<std::uint8_t> bytes;

private:
    static constexpr std::uint8_t kBegin = 1, kEnd = 7;

    StreamBuilder& page_record(std::uint8_t type, std::uint64_t gpa, std::span<const std::uint8_t> data) {
        std::vector<std::uint8_t> p;
        le(p, gpa, 8);
        p.insert(p.end(), data.begin(), data.end());
        return record(type, p);
    }

    std::uint64_t epoch_ = 0;
    std::uint64_t digest_ = tandem::kFnv64Offset;
    std::uint32_t records_ = 0, pages_ = 0;
};

// A small valid CPU state (the decoder requires one per epoch).
inline tandem::checkpoint::CpuState& small_cpu(tandem::checkpoint::CpuState& s, std::uint64_t rip) {
    s.clear();
    (void)s.set(0x681e /* guest RIP */, rip);
    (void)s.set(tandem::checkpoint::cpu_state_keys::gpr_base, 0x1234);
    return s;
}

}  // namespace ckpt
