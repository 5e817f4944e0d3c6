// Messages between the two sessions of a protected pair that are not checkpoint records, sent as
// link messages of type `data` (reliable and in order with the checkpoint stream). Two kinds:
// "protected from epoch E" — the primary holds the guest's output from epoch E on, so from the
// moment the backup has committed E it may take over (before that, output passed straight
// through during the initial copy and a takeover would contradict what clients saw). And
// "hand over at epoch E": the primary stopped its guest for good (`failover` or `switchover` on its console) and
// the backup takes over now from its committed epoch, without waiting for the primary's silence.
//
//   offset size field
//        0    4 magic  "TPN1"
//        4    4 kind   1: protected_from, 2: hand_over
//        8    8 epoch
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "hypervisor/util/result.hpp"

namespace tandem::engine {

inline constexpr std::size_t kPairNoticeSize = 16;

enum class PairNoticeKind : std::uint32_t { protected_from = 1, hand_over = 2 };

struct PairNotice {
    PairNoticeKind kind;
    std::uint64_t epoch;
};

void encode_pair_notice(const PairNotice& notice, std::span<std::uint8_t, kPairNoticeSize> out);
Result<PairNotice> decode_pair_notice(std::span<const std::uint8_t> in);

}  // namespace tandem::engine
