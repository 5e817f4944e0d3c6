#include "replication/checkpoint/encoder.hpp"

#include "hypervisor/util/byte_stream.hpp"
#include "replication/checkpoint/stream_digest.hpp"
#include "replication/checkpoint/delta_codec.hpp"

namespace tandem::checkpoint {
namespace {
bool all_zero(std::span<const std::uint8_t> bytes) {
    // A word at a time (pages are 8-byte multiples); the tail bytewise.
    std::size_t words = bytes.size() / 8;
    for (std::size_t i = 0; i < words; ++i) {
        std::uint64_t w;
        __builtin_memcpy(&w, bytes.data() + 8 * i, 8);
        if (w != 0) return false;
    }
    for (std::size_t i = words * 8; i < bytes.size(); ++i) {
        if (bytes[i] != 0) return false;
    }
    return true;
}
}  // namespace

// The digest hashes a header and its payload apart; equal to the decoder's whole-record hash
// only while the header is a whole number of digest words.
static_assert(kRecordHeader % 8 == 0);

Status EpochEncoder::emit(RecordType type, std::span<const std::uint8_t> payload) {
    if (payload.size() > kMaxRecordPayload) return Error::of("checkpoint: record payload too large", payload.size());
    std::uint8_t header[kRecordHeader] = {static_cast<std::uint8_t>(type), 0, 0, 0};
    store_le<std::uint32_t>(header + 4, static_cast<std::uint32_t>(payload.size()));
    if (type != RecordType::epoch_end) {
        digest_ = stream_digest(header, kRecordHeader, digest_);
        digest_ = stream_digest(payload.data(), payload.size(), digest_);
    }
    if (auto s = sink_->write({header, kRecordHeader}); !s) return s;
    if (auto s = sink_->write(payload); !s) return s;
    ++records_;
    ++stats_.records;
    stats_.bytes += kRecordHeader + payload.size();
    return success();
}

Status EpochEncoder::begin(std::uint64_t epoch, std::uint64_t guest_ram) {
    stats_ = {};
    epoch_ = epoch;
    digest_ = kFnv64Offset;
    pages_ = 0;
    records_ = 0;
    ByteWriter w({record_, sizeof(record_)});
    w.put<std::uint32_t>(kFormatVersion);
    w.put<std::uint64_t>(epoch);
    w.put<std::uint64_t>(guest_ram);
    w.put<std::uint32_t>(kPageSize);
    return emit(RecordType::epoch_begin, w.written());
}

Status EpochEncoder::page(std::uint64_t gpa, std::span<const std::uint8_t> page, std::span<std::uint8_t> reference,
                          bool deltas) {
    if (page.size() != kPageSize || reference.size() != kPageSize || gpa % kPageSize != 0) {
        return Error::of("checkpoint: bad page for the encoder", gpa);
    }
    ++pages_;
    std::uint8_t* out = record_;
    store_le<std::uint64_t>(out, gpa);
    Status s = success();
    if (all_zero(page)) {
        ++stats_.pages_zero;
        s = emit(RecordType::page_zero, {out, 8});
    } else {
        // Worth it only if smaller than 3/4 of the page; otherwise send it whole.
        std::size_t delta = deltas ? encode_delta(reference, page, {out + 8, kPageSize}, kPageSize * 3 / 4) : 0;
        if (delta != 0) {
            ++stats_.pages_delta;
            s = emit(RecordType::page_delta, {out, 8 + delta});
        } else {
            ++stats_.pages_full;
            __builtin_memcpy(out + 8, page.data(), kPageSize);
            s = emit(RecordType::page_full, {out, kPageFullPayload});
        }
    }
    if (!s) return s;
    __builtin_memcpy(reference.data(), page.data(), kPageSize);
    return success();
}

Status EpochEncoder::cpu(const CpuState& state) {
    ByteWriter w({record_, kMaxRecordPayload});
    state.encode(w);
    if (w.overflow()) return Error::of("checkpoint: CPU state does not fit in a record");
    return emit(RecordType::cpu_state, w.written());
}

Status EpochEncoder::device(std::uint16_t id, std::uint16_t version, std::span<const std::uint8_t> state) {
    if (state.size() + 4 > kDeviceStateMaxPayload) return Error::of("checkpoint: device state too large", id);
    ByteWriter w({record_, kDeviceStateMaxPayload});
    w.put<std::uint16_t>(id);
    w.put<std::uint16_t>(version);
    w.put_bytes(state);
    return emit(RecordType::device_state, w.written());
}

Status EpochEncoder::end() {
    ByteWriter w({record_, kEpochEndPayload});
    w.put<std::uint64_t>(epoch_);
    w.put<std::uint32_t>(pages_);
    w.put<std::uint32_t>(records_ + 1);
    w.put<std::uint64_t>(digest_);
    return emit(RecordType::epoch_end, w.written());
}

}  // namespace tandem::checkpoint
