// Parses the checkpoint stream (record_format.hpp) as it arrives, in pieces of any size, and
// hands each validated record to the backup image. Every header field and payload length is
// checked before use; the digest in EPOCH_END is checked before the epoch is applied. After an
// error the epoch is abandoned and the decoder accepts input again only after reset().
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "hypervisor/util/result.hpp"
#include "replication/checkpoint/backup_image.hpp"
#include "replication/checkpoint/record_format.hpp"

namespace tandem::checkpoint {

class StreamDecoder {
public:
    explicit StreamDecoder(BackupImage& target) : target_(target) {}

    Status feed(std::span<const std::uint8_t> bytes);
    void reset();
    bool failed() const { return failed_; }
    std::uint64_t epochs_applied() const { return epochs_applied_; }
    std::uint64_t records() const { return records_; }

private:
    Status record(RecordType type, std::span<const std::uint8_t> payload);
    Status fail(const Error& e);

    BackupImage& target_;
    std::uint8_t buffer_[kRecordHeader + kMaxRecordPayload]{};
    std::size_t have_ = 0;
    bool failed_ = false;
    std::uint64_t digest_ = 0;
    std::uint64_t records_in_epoch_ = 0;
    std::uint64_t epochs_applied_ = 0;
    std::uint64_t records_ = 0;
};

}  // namespace tandem::checkpoint
