#include "replication/engine/pair_notice.hpp"

namespace tandem::engine {
namespace {
constexpr std::uint8_t kMagic[4] = {'T', 'P', 'N', '1'};
}

void encode_pair_notice(const PairNotice& notice, std::span<std::uint8_t, kPairNoticeSize> out) {
    for (std::size_t i = 0; i < 4; ++i) out[i] = kMagic[i];
    auto kind = static_cast<std::uint32_t>(notice.kind);
    for (std::size_t i = 0; i < 4; ++i) out[4 + i] = static_cast<std::uint8_t>(kind >> (8 * i));
    for (std::size_t i = 0; i < 8; ++i) out[8 + i] = static_cast<std::uint8_t>(notice.epoch >> (8 * i));
}

Result<PairNotice> decode_pair_notice(std::span<const std::uint8_t> in) {
    if (in.size() != kPairNoticeSize) return Error::of("pair: notice of the wrong size", in.size());
    for (std::size_t i = 0; i < 4; ++i) {
        if (in[i] != kMagic[i]) return Error::of("pair: notice with a bad magic");
    }
    std::uint32_t kind = 0;
    for (int i = 3; i >= 0; --i) kind = kind << 8 | in[4 + static_cast<std::size_t>(i)];
    if (kind != static_cast<std::uint32_t>(PairNoticeKind::protected_from) &&
        kind != static_cast<std::uint32_t>(PairNoticeKind::hand_over)) {
        return Error::of("pair: unknown notice", kind);
    }
    std::uint64_t epoch = 0;
    for (int i = 7; i >= 0; --i) epoch = epoch << 8 | in[8 + static_cast<std::size_t>(i)];
    return PairNotice{static_cast<PairNoticeKind>(kind), epoch};
}

}  // namespace tandem::engine
