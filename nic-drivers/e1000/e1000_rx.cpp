// E1000 receive: the device fills the buffer of the descriptor at RDH, writes length, errors and
// status (DD, EOP) and advances RDH (8254x SDM §3.2.3, §3.2.6). The driver walks from its own
// next-to-clean index while DD is set, delivers complete good frames, drops the rest, re-arms
// each descriptor and returns the batch to the device with one RDT write.
#include "nic-drivers/e1000/e1000.hpp"

namespace tandem::nic {

using namespace e1000;

std::size_t E1000::receive(FrameSink& sink, std::size_t budget) {
    if (!running_ || failed_) return 0;
    if (!rx_head_sane()) return 0;
    if (budget > rx_count_) budget = rx_count_;
    std::size_t seen = 0;
    std::size_t delivered = 0;
    while (seen < budget) {
        volatile RxDescriptor& d = rx_descriptor(rx_next_);
        std::uint8_t status = d.status;
        if ((status & rx_status::kDd) == 0) break;
        dma_read_barrier();  // the rest of the descriptor and the data after DD
        if (deliver(rx_next_, status, sink)) ++delivered;
        // Re-arm: the device may have rewritten the address field; put ours back.
        d.buffer = rx_buffers_.phys + std::uint64_t{rx_next_} * kRxBufferSize;
        d.length = 0;
        d.errors = 0;
        d.status = 0;
        rx_next_ = rx_next_ + 1 == rx_count_ ? 0 : rx_next_ + 1;
        ++seen;
    }
    if (seen != 0) {
        dma_write_barrier();
        // Hand back everything up to the descriptor before the next one to clean.
        write(kRdt, rx_next_ == 0 ? rx_count_ - 1 : rx_next_ - 1);
    }
    return delivered;
}

// One completed descriptor. A frame that spans descriptors (DD without EOP: longer than the
// 2 KiB buffer) is dropped whole: counted once, its remaining descriptors discarded up to EOP.
bool E1000::deliver(std::uint32_t i, std::uint8_t status, FrameSink& sink) {
    volatile RxDescriptor& d = rx_descriptor(i);
    bool end = (status & rx_status::kEop) != 0;
    if (rx_discarding_) {
        if (end) rx_discarding_ = false;
        return false;
    }
    if (!end) {
        rx_discarding_ = true;
        ++counters_.rx_dropped;
        return false;
    }
    std::uint8_t errors = d.errors;
    std::uint16_t length = d.length;  // read once: the device cannot change it after the check
    if ((errors & rx_error::kFrameErrors) != 0 || length < kEthernetHeader || length > kRxBufferSize) {
        ++counters_.rx_errors;
        return false;
    }
    if (length > kMaxFrame) {
        ++counters_.rx_dropped;
        return false;
    }
    const std::uint8_t* data = rx_buffers_.cpu + std::size_t{i % rx_count_} * kRxBufferSize;
    ++counters_.rx_frames;
    counters_.rx_bytes += length;
    sink.frame({data, length});
    return true;
}

// The device's head lies inside the ring. (Any index is a legal head: with RDT one behind
// next-to-clean the device may own every descriptor but that one.)
bool E1000::rx_head_sane() {
    std::uint32_t head = read(kRdh);
    if (head >= rx_count_) {
        fail(Error::of("e1000: receive head out of range", head));
        return false;
    }
    return true;
}

}  // namespace tandem::nic
