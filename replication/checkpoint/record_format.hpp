// The checkpoint stream (DESIGN §3 step 5): one epoch is a sequence of records
//
//   EPOCH_BEGIN  format version, epoch number, guest RAM size, page size
//   PAGE_FULL | PAGE_ZERO | PAGE_DELTA   (any number, each page at most once per epoch)
//   CPU_STATE    the vCPU (cpu_state.hpp)
//   DEVICE_STATE one per device model (its id, its own version, its bytes)
//   EPOCH_END    epoch number, counts, digest over every byte of the epoch before it
//                (stream_digest.hpp)
//
// Each record: u8 type, u8 flags (0), u16 reserved (0), u32 payload length, payload. All
// integers little-endian. The decoder (decoder.hpp) checks every field against these limits;
// the format version changes whenever any layout here changes.
#pragma once

#include "hypervisor/devices/device_state.hpp"

#include <cstdint>

namespace tandem::checkpoint {

inline constexpr std::uint32_t kFormatVersion = 2;  // 2: word-wise stream digest
inline constexpr std::uint32_t kPageSize = 4096;
inline constexpr std::uint32_t kRecordHeader = 8;

enum class RecordType : std::uint8_t {
    epoch_begin = 1,
    page_full = 2,
    page_zero = 3,
    page_delta = 4,
    cpu_state = 5,
    device_state = 6,
    epoch_end = 7,
};

// Payload sizes and bounds.
inline constexpr std::uint32_t kEpochBeginPayload = 4 + 8 + 8 + 4;         // version, epoch, ram, page size
inline constexpr std::uint32_t kPageFullPayload = 8 + kPageSize;           // gpa, bytes
inline constexpr std::uint32_t kPageZeroPayload = 8;                       // gpa
inline constexpr std::uint32_t kPageDeltaMaxPayload = 8 + kPageSize;       // gpa, runs (never larger than full)
inline constexpr std::uint32_t kDeviceStateMaxPayload = 4 + kMaxDeviceStateBytes;  // id, version, bytes
inline constexpr std::uint32_t kCpuStateMaxPayload = 16 * 1024;
inline constexpr std::uint32_t kEpochEndPayload = 8 + 4 + 4 + 8;           // epoch, pages, records, digest
inline constexpr std::uint32_t kMaxRecordPayload = kCpuStateMaxPayload;

}  // namespace tandem::checkpoint
