#include "replication/link/send_window.hpp"

namespace tandem::link {

void SendSlot::record_transmission(std::uint64_t seq, std::uint64_t now) {
    if (transmissions == 0) {
        first_sent_ns = now;
        first_seq = seq;
    }
    last_sent_ns = now;
    last_seq = seq;
    ++transmissions;
}

void SendWindow::reset() {
    next_msg_ = 1;
    snd_nxt_ = 1;
    acked_ = 0;
    sacked_count_ = lost_count_ = 0;
    for (auto& s : slots_) {
        s.in_use = false;
        s.sacked = false;
        s.lost = false;
    }
}

bool SendWindow::accept(FrameType type, std::uint64_t epoch, std::span<const std::uint8_t> payload) {
    if (in_flight() >= kSize || payload.size() > kMaxPayload) return false;
    SendSlot& s = slot(next_msg_);
    s.msg = next_msg_++;
    s.type = type;
    s.epoch = epoch;
    s.length = static_cast<std::uint16_t>(payload.size());
    for (std::size_t i = 0; i < payload.size(); ++i) s.payload[i] = payload[i];
    s.in_use = true;
    s.sacked = false;
    s.lost = false;
    s.transmissions = 0;
    return true;
}

SendSlot& SendWindow::take_queued() {
    SendSlot& s = slot(snd_nxt_);
    ++snd_nxt_;
    return s;
}

SendSlot* SendWindow::outstanding(std::uint64_t m) {
    SendSlot& s = slot(m);
    return m > acked_ && m < snd_nxt_ && s.in_use && s.msg == m ? &s : nullptr;
}

const SendSlot* SendWindow::outstanding(std::uint64_t m) const {
    const SendSlot& s = slot(m);
    return m > acked_ && m < snd_nxt_ && s.in_use && s.msg == m ? &s : nullptr;
}

SendSlot* SendWindow::newest_unsacked() {
    for (std::uint64_t m = snd_nxt_ - 1; m > acked_; --m) {
        SendSlot& s = slot(m);
        if (s.in_use && s.msg == m && !s.sacked) return &s;
    }
    return nullptr;
}

void SendWindow::mark_lost(SendSlot& s, bool by_timeout) {
    s.lost = true;
    s.lost_by_timeout = by_timeout;
    ++lost_count_;
}

void SendWindow::clear_lost(SendSlot& s) {
    if (s.lost) {
        s.lost = false;
        --lost_count_;
    }
}

void SendWindow::mark_sacked(SendSlot& s) {
    clear_lost(s);  // it arrived after all
    s.sacked = true;
    ++sacked_count_;
}

std::uint32_t SendWindow::sacked_after(std::uint64_t msg) const {
    std::uint32_t n = 0;
    for (std::uint64_t m = msg + 1; m < snd_nxt_; ++m) {
        const SendSlot& s = slot(m);
        if (s.in_use && s.msg == m && s.sacked) ++n;
    }
    return n;
}

std::uint64_t SendWindow::nth_newest_sacked_seq(std::uint32_t n) const {
    if (n == 0 || sacked_count_ < n) return 0;
    std::uint32_t seen = 0;
    for (std::uint64_t m = snd_nxt_ - 1; m > acked_; --m) {
        const SendSlot& s = slot(m);
        if (s.in_use && s.msg == m && s.sacked && ++seen == n) return s.first_seq;
    }
    return 0;
}

}  // namespace tandem::link
