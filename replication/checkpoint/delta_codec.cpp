#include "replication/checkpoint/delta_codec.hpp"

#include "hypervisor/util/byte_stream.hpp"
#include "replication/checkpoint/record_format.hpp"

namespace tandem::checkpoint {

namespace {

// How many bytes differ, a word at a time. A delta holds every changed byte plus a 4-byte header
// per run, so this + 4 is a lower bound of its size: a page mostly rewritten is refused after
// one cheap pass instead of a byte-by-byte run search (the bulk of a join's first epoch, where
// most pages are compared against zero).
std::size_t changed_bytes(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) {
    constexpr std::uint64_t kLowBits = 0x0101010101010101ull;
    std::size_t count = 0;
    for (std::size_t pos = 0; pos < kPageSize; pos += 8) {
        std::uint64_t x, y;
        __builtin_memcpy(&x, a.data() + pos, 8);
        __builtin_memcpy(&y, b.data() + pos, 8);
        std::uint64_t d = x ^ y;
        d |= d >> 4;
        d |= d >> 2;
        d |= d >> 1;
        // One bit per differing byte, summed by a multiply into the top byte.
        count += static_cast<std::size_t>(((d & kLowBits) * kLowBits) >> 56);
    }
    return count;
}

}  // namespace

std::size_t encode_delta(std::span<const std::uint8_t> old_page, std::span<const std::uint8_t> new_page,
                         std::span<std::uint8_t> out, std::size_t limit) {
    if (old_page.size() != kPageSize || new_page.size() != kPageSize) return 0;
    std::size_t changed = changed_bytes(old_page, new_page);
    if (changed != 0 && (changed + 4 >= limit || changed + 4 > out.size())) return 0;
    std::size_t used = 0;
    std::size_t pos = 0;
    std::size_t previous_end = 0;
    while (pos < kPageSize) {
        // Skip equal bytes, a word at a time while aligned.
        while (pos < kPageSize && pos % 8 != 0 && old_page[pos] == new_page[pos]) ++pos;
        while (pos + 8 <= kPageSize) {
            std::uint64_t a, b;
            __builtin_memcpy(&a, old_page.data() + pos, 8);
            __builtin_memcpy(&b, new_page.data() + pos, 8);
            if (a != b) break;
            pos += 8;
        }
        while (pos < kPageSize && old_page[pos] == new_page[pos]) ++pos;
        if (pos == kPageSize) break;
        // A changed run: extend it across gaps of unchanged bytes shorter than kDeltaMinGap.
        std::size_t start = pos;
        std::size_t end = pos;
        while (end < kPageSize) {
            if (old_page[end] != new_page[end]) {
                ++end;
                continue;
            }
            std::size_t gap = end;
            while (gap < kPageSize && gap - end < kDeltaMinGap && old_page[gap] == new_page[gap]) ++gap;
            if (gap == kPageSize || gap - end >= kDeltaMinGap) break;
            end = gap;
        }
        std::size_t length = end - start;
        if (used + 4 + length >= limit || used + 4 + length > out.size()) return 0;
        store_le<std::uint16_t>(out.data() + used, static_cast<std::uint16_t>(start - previous_end));
        store_le<std::uint16_t>(out.data() + used + 2, static_cast<std::uint16_t>(length));
        __builtin_memcpy(out.data() + used + 4, new_page.data() + start, length);
        used += 4 + length;
        previous_end = end;
        pos = end;
    }
    if (used == 0) {
        // Unchanged (written with the same bytes): one single-byte run is the smallest delta.
        if (5 >= limit || out.size() < 5) return 0;
        store_le<std::uint16_t>(out.data(), 0);
        store_le<std::uint16_t>(out.data() + 2, 1);
        out[4] = new_page[0];
        return 5;
    }
    return used;
}

Status apply_delta(std::span<const std::uint8_t> delta, std::span<std::uint8_t> page) {
    if (page.size() != kPageSize) return Error::of("delta: page has the wrong size", page.size());
    ByteReader reader(delta);
    std::size_t position = 0;
    while (reader.remaining() != 0) {
        std::uint16_t skip = 0, length = 0;
        std::span<const std::uint8_t> bytes;
        if (!reader.get(skip) || !reader.get(length)) return Error::of("delta: truncated run header", reader.offset());
        if (length == 0) return Error::of("delta: empty run", reader.offset());
        if (skip > kPageSize - position || length > kPageSize - position - skip) {
            return Error::of("delta: run extends past the page", reader.offset());
        }
        if (!reader.get_bytes(bytes, length)) return Error::of("delta: truncated run data", reader.offset());
        position += skip;
        for (std::size_t i = 0; i < length; ++i) page[position + i] = bytes[i];
        position += length;
    }
    return success();
}

}  // namespace tandem::checkpoint
