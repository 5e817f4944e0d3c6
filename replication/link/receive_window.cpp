#include "replication/link/receive_window.hpp"

namespace tandem::link {

void ReceiveWindow::reset() {
    delivered_ = 0;
    highest_received_ = 0;
    for (auto& s : slots_) s.filled = false;
}

ReceiveWindow::Arrival ReceiveWindow::classify(std::uint64_t m) const {
    if (m <= delivered_) return Arrival::duplicate;
    if (m - delivered_ > kSize) return Arrival::beyond_window;
    return slot(m).filled ? Arrival::duplicate : Arrival::fresh;
}

ReceiveWindow::Stored ReceiveWindow::store(std::uint64_t m, FrameType type, std::uint64_t epoch, std::size_t length) {
    Slot& s = slot(m);
    s.length = static_cast<std::uint16_t>(length <= kMaxPayload ? length : kMaxPayload);
    s.type = type;
    s.epoch = epoch;
    s.filled = true;
    const std::uint64_t top = highest_received_ > delivered_ ? highest_received_ : delivered_;
    if (m > top) highest_received_ = m;
    Stored out;
    out.payload = std::span<std::uint8_t>(s.payload, s.length);
    out.in_order = m == delivered_ + 1;
    out.new_hole = m > top + 1;
    return out;
}

bool ReceiveWindow::ready() const { return slot(delivered_ + 1).filled; }

Message ReceiveWindow::take() {
    Slot& s = slot(delivered_ + 1);
    s.filled = false;
    ++delivered_;
    return Message{s.type, s.epoch, delivered_, std::span<const std::uint8_t>(s.payload, s.length)};
}

std::uint64_t ReceiveWindow::ack_bitmap() const {
    std::uint64_t bits = 0;
    for (std::uint64_t i = 0; i < kSize - 1; ++i) {
        if (slot(delivered_ + 2 + i).filled) bits |= std::uint64_t{1} << i;
    }
    return bits;
}

}  // namespace tandem::link
