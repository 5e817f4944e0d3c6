// The checkpoint stream's end-to-end digest (EPOCH_END, record_format.hpp): FNV-1a over 8-byte
// little-endian words with a fold after each multiply, the last 0-7 bytes one at a time. A word
// at a time because both sides hash every byte of every epoch (a join's first epoch is all of
// guest RAM) and a byte-wise hash cost as much as the rest of the encoding; the fold carries each
// word's high bits down, which a plain multiply never does. It runs record by record (so word
// boundaries do not depend on how the stream was cut into frames); the header is 8 bytes
// (kRecordHeader), so hashing a header and then its payload equals hashing the record whole.
#pragma once

#include <cstddef>
#include <cstdint>

#include "hypervisor/util/fnv.hpp"

namespace tandem::checkpoint {

constexpr std::uint64_t stream_digest(const std::uint8_t* data, std::size_t size, std::uint64_t hash = kFnv64Offset) {
    std::size_t i = 0;
    for (; i + 8 <= size; i += 8) {
        std::uint64_t w = 0;
        for (unsigned b = 0; b < 8; ++b) w |= static_cast<std::uint64_t>(data[i + b]) << (8 * b);
        hash = (hash ^ w) * kFnv64Prime;
        hash ^= hash >> 29;
    }
    for (; i < size; ++i) hash = (hash ^ data[i]) * kFnv64Prime;
    return hash;
}

}  // namespace tandem::checkpoint
