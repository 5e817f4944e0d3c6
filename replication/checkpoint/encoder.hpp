// Writes one epoch of the checkpoint stream (record_format.hpp) into a RecordSink: pages (zero
// pages elided to a PAGE_ZERO record, deltas against the copy last sent when they are smaller),
// the CPU state, the device states and EPOCH_END with counts and the digest. The sink is the
// wire (replication link) or, in loopback mode, the decoder of the local backup image.
#pragma once

#include <cstdint>
#include <span>

#include "hypervisor/util/result.hpp"
#include "replication/checkpoint/cpu_state.hpp"
#include "replication/checkpoint/record_format.hpp"

namespace tandem::checkpoint {

class RecordSink {
public:
    virtual Status write(std::span<const std::uint8_t> bytes) = 0;

protected:
    ~RecordSink() = default;
};

struct EncoderStats {
    std::uint64_t pages_full = 0, pages_zero = 0, pages_delta = 0;
    std::uint64_t records = 0, bytes = 0;
};

class EpochEncoder {
public:
    explicit EpochEncoder(RecordSink& sink) : sink_(&sink) {}
    void set_sink(RecordSink& sink) { sink_ = &sink; }

    Status begin(std::uint64_t epoch, std::uint64_t guest_ram);
    // `page` is the page's content as captured; `reference` is what the peer has for it (the
    // copy last sent) and is updated to `page`. With deltas off every non-zero page goes whole.
    Status page(std::uint64_t gpa, std::span<const std::uint8_t> page, std::span<std::uint8_t> reference,
                bool deltas);
    Status cpu(const CpuState& state);
    Status device(std::uint16_t id, std::uint16_t version, std::span<const std::uint8_t> state);
    Status end();

    // Totals for the epoch being written (reset by begin()).
    const EncoderStats& stats() const { return stats_; }
    std::uint64_t epoch() const { return epoch_; }

private:
    Status emit(RecordType type, std::span<const std::uint8_t> payload);

    RecordSink* sink_;
    EncoderStats stats_{};
    std::uint64_t epoch_ = 0;
    std::uint64_t digest_ = 0;
    std::uint32_t pages_ = 0;
    std::uint32_t records_ = 0;
    std::uint8_t record_[kRecordHeader + kMaxRecordPayload]{};
};

}  // namespace tandem::checkpoint
