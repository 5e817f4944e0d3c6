#include "replication/checkpoint/decoder.hpp"

#include "hypervisor/util/byte_stream.hpp"
#include "hypervisor/util/bytes.hpp"
#include "replication/checkpoint/stream_digest.hpp"

namespace tandem::checkpoint {
namespace {

// Largest payload each record type may carry (exact sizes where fixed).
bool payload_size_ok(RecordType type, std::size_t size) {
    switch (type) {
        case RecordType::epoch_begin: return size == kEpochBeginPayload;
        case RecordType::page_full: return size == kPageFullPayload;
        case RecordType::page_zero: return size == kPageZeroPayload;
        case RecordType::page_delta: return size > 8 && size <= kPageDeltaMaxPayload;
        case RecordType::cpu_state: return size <= kCpuStateMaxPayload;
        case RecordType::device_state: return size >= 4 && size <= kDeviceStateMaxPayload;
        case RecordType::epoch_end: return size == kEpochEndPayload;
    }
    return false;
}

}  // namespace

Status StreamDecoder::fail(const Error& e) {
    failed_ = true;
    target_.abandon_epoch();
    return e;
}

void StreamDecoder::reset() {
    failed_ = false;
    have_ = 0;
    target_.abandon_epoch();
}

Status StreamDecoder::feed(std::span<const std::uint8_t> bytes) {
    if (failed_) return Error::of("checkpoint: decoder stopped after an error (reset needed)");
    std::size_t pos = 0;
    while (pos < bytes.size()) {
        // Complete the header, then the payload it announces.
        std::size_t want = kRecordHeader;
        if (have_ >= kRecordHeader) want = kRecordHeader + load_le<std::uint32_t>({buffer_, kRecordHeader}, 4);
        std::size_t take = want - have_ < bytes.size() - pos ? want - have_ : bytes.size() - pos;
        __builtin_memcpy(buffer_ + have_, bytes.data() + pos, take);
        have_ += take;
        pos += take;
        if (have_ == kRecordHeader) {
            auto type = static_cast<RecordType>(buffer_[0]);
            std::uint32_t length = load_le<std::uint32_t>({buffer_, kRecordHeader}, 4);
            if (buffer_[1] != 0 || buffer_[2] != 0 || buffer_[3] != 0) return fail(Error::of("checkpoint: reserved header bits set"));
            if (!payload_size_ok(type, length)) {
                return fail(Error::of("checkpoint: bad record type or length", static_cast<std::uint64_t>(buffer_[0]) << 32 | length));
            }
        }
        std::size_t length = have_ >= kRecordHeader ? load_le<std::uint32_t>({buffer_, kRecordHeader}, 4) : 0;
        if (have_ >= kRecordHeader && have_ == kRecordHeader + length) {
            auto type = static_cast<RecordType>(buffer_[0]);
            Status s = record(type, {buffer_ + kRecordHeader, length});
            have_ = 0;
            if (!s) return fail(s.error());
        }
    }
    return success();
}

Status StreamDecoder::record(RecordType type, std::span<const std::uint8_t> p) {
    ++records_;
    if (type != RecordType::epoch_end) {
        if (type == RecordType::epoch_begin) {
            digest_ = kFnv64Offset;
            records_in_epoch_ = 0;
        }
        digest_ = stream_digest(buffer_, kRecordHeader + p.size(), digest_);
        ++records_in_epoch_;
    }
    ByteReader r(p);
    switch (type) {
        case RecordType::epoch_begin: {
            std::uint32_t version = 0, page_size = 0;
            std::uint64_t epoch = 0, ram = 0;
            r.get(version);
            r.get(epoch);
            r.get(ram);
            r.get(page_size);
            if (version != kFormatVersion) return Error::of("checkpoint: unsupported stream format version", version);
            if (target_.in_epoch()) return Error::of("checkpoint: EPOCH_BEGIN inside an epoch", epoch);
            return target_.begin_epoch(epoch, ram, page_size);
        }
        case RecordType::page_full:
        case RecordType::page_zero:
        case RecordType::page_delta: {
            std::uint64_t gpa = 0;
            r.get(gpa);
            return target_.stage_page(type, gpa, p.subspan(8));
        }
        case RecordType::cpu_state:
            return target_.stage_cpu(p);
        case RecordType::device_state: {
            std::uint16_t id = 0, version = 0;
            r.get(id);
            r.get(version);
            return target_.stage_device(id, version, p.subspan(4));
        }
        case RecordType::epoch_end: {
            std::uint64_t epoch = 0, digest = 0;
            std::uint32_t pages = 0, records = 0;
            r.get(epoch);
            r.get(pages);
            r.get(records);
            r.get(digest);
            if (!target_.in_epoch()) return Error::of("checkpoint: EPOCH_END outside an epoch", epoch);
            if (records != records_in_epoch_ + 1) return Error::of("checkpoint: EPOCH_END record count mismatch", records);
            if (digest != digest_) return Error::of("checkpoint: epoch digest mismatch", epoch);
            if (auto s = target_.end_epoch(epoch, pages); !s) return s;
            ++epochs_applied_;
            return success();
        }
    }
    return Error::of("checkpoint: unknown record type", static_cast<std::uint64_t>(type));
}

}  // namespace tandem::checkpoint
