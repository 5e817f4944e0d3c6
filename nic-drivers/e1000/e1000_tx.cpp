// E1000 transmit: legacy descriptors, one per frame (8254x SDM §3.3.3), EOP | IFCS | RS so the
// device appends the FCS and reports completion by setting DD (§3.3.3.2), which is how
// descriptors are reclaimed. One TDT write hands over a whole batch (§3.3.4).
#include "nic-drivers/e1000/e1000.hpp"

namespace tandem::nic {

using namespace e1000;

namespace {

constexpr std::uint32_t next(std::uint32_t i, std::uint32_t count) { return i + 1 == count ? 0 : i + 1; }
// Steps from `from` forward to `to` around a ring of `count`.
constexpr std::uint32_t distance(std::uint32_t from, std::uint32_t to, std::uint32_t count) {
    return to >= from ? to - from : to + count - from;
}
static_assert(distance(250, 3, 256) == 9);

}  // namespace

std::size_t E1000::transmit(std::span<const Frame> frames) {
    if (!running_ || failed_) return 0;
    reclaim_tx();
    if (failed_) return 0;
    std::size_t taken = 0;
    std::uint32_t queued = 0;
    for (const Frame& f : frames) {
        if (f.size() < kEthernetHeader || f.size() > kMaxFrame) {
            ++counters_.tx_dropped;
            ++taken;
            continue;
        }
        std::uint32_t after = next(tx_tail_, tx_count_);
        if (after == tx_clean_) {  // full: the device owns every other descriptor
            if (!tx_head_sane()) return taken;
            break;
        }
        std::uint8_t* buffer = tx_buffers_.cpu + std::size_t{tx_tail_} * kTxBufferSize;
        __builtin_memcpy(buffer, f.data(), f.size());
        volatile TxDescriptor& d = tx_descriptor(tx_tail_);
        d.buffer = tx_buffers_.phys + std::uint64_t{tx_tail_} * kTxBufferSize;
        d.length = static_cast<std::uint16_t>(f.size());
        d.cso = 0;
        d.css = 0;
        d.special = 0;
        d.status = 0;
        d.command = tx_command::kEop | tx_command::kIfcs | tx_command::kRs;
        tx_tail_ = after;
        ++queued;
        ++taken;
        ++counters_.tx_frames;
        counters_.tx_bytes += f.size();
    }
    if (queued != 0) {
        dma_write_barrier();  // descriptors and data before the doorbell
        write(kTdt, tx_tail_);
    }
    return taken;
}

// Walks from the oldest descriptor in flight while the device has marked them done.
void E1000::reclaim_tx() {
    while (tx_clean_ != tx_tail_) {
        volatile TxDescriptor& d = tx_descriptor(tx_clean_);
        std::uint8_t status = d.status;
        if ((status & tx_status::kDd) == 0) break;
        if ((status & (tx_status::kEc | tx_status::kLc)) != 0) ++counters_.tx_errors;
        d.status = 0;
        tx_clean_ = next(tx_clean_, tx_count_);
    }
}

// The device may own only the in-flight descriptors: TDH lies in [clean, tail] (§3.3.4).
bool E1000::tx_head_sane() {
    std::uint32_t head = read(kTdh);
    if (head >= tx_count_ || distance(tx_clean_, head, tx_count_) > distance(tx_clean_, tx_tail_, tx_count_)) {
        fail(Error::of("e1000: transmit head outside the descriptors in flight", head));
        return false;
    }
    return true;
}

std::size_t E1000::tx_pending() {
    if (!running_ || failed_) return 0;
    reclaim_tx();
    if (tx_clean_ != tx_tail_ && !tx_head_sane()) return 0;
    return distance(tx_clean_, tx_tail_, tx_count_);
}

}  // namespace tandem::nic
