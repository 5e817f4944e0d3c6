// The sender's half of reliable delivery on its own (replication/link/send_window.hpp): message
// numbers, the window, the scoreboard of cumulative and selective acks, driven with synthetic
// acks and frame sequence numbers; no link, no clock.
#include <doctest/doctest.h>

#include <memory>
#include <vector>

#include "replication/link/send_window.hpp"

using namespace tandem::link;

namespace {

// A window on the heap (64 jumbo slots: too large for a test's stack frame).
std::unique_ptr<SendWindow> window_with(std::size_t messages) {
    auto w = std::make_unique<SendWindow>();
    w->reset();
    for (std::size_t i = 0; i < messages; ++i) {
        const std::uint8_t payload[3] = {static_cast<std::uint8_t>(i), 1, 2};
        REQUIRE(w->accept(FrameType::data, 7, payload));
    }
    return w;
}

// Transmits every queued message; message m goes in frame seq 100 + m at time m ms.
void transmit_all(SendWindow& w) {
    while (w.has_queued()) {
        SendSlot& s = w.take_queued();
        s.record_transmission(100 + s.msg, s.msg * 1'000'000);
    }
}

// Applies an ack and returns the messages it newly delivered, in callback order.
std::vector<std::uint64_t> ack(SendWindow& w, std::uint64_t cumulative, std::uint64_t bitmap,
                               SendWindow::AckResult* result = nullptr) {
    std::vector<std::uint64_t> delivered;
    auto r = w.apply_ack(cumulative, bitmap, [&](const SendSlot& s) { delivered.push_back(s.msg); });
    if (result != nullptr) *result = r;
    return delivered;
}

// Bit for message m in an ack whose cumulative part is `cumulative` (frame_header.hpp).
std::uint64_t bit(std::uint64_t cumulative, std::uint64_t m) { return std::uint64_t{1} << (m - cumulative - 2); }

}  // namespace

TEST_CASE("send window: messages are numbered from 1, queued, then transmitted in order") {
    auto w = window_with(5);
    CHECK(w->next_msg() == 6);
    CHECK(w->in_flight() == 5);
    CHECK(w->queued() == 5);
    CHECK(w->flight() == 0);
    CHECK_FALSE(w->any_outstanding());
    CHECK_FALSE(w->acked_everything());
    SendSlot& first = w->take_queued();
    CHECK(first.msg == 1);
    CHECK(first.epoch == 7);
    CHECK(first.bytes().size() == 3);
    CHECK(first.transmissions == 0);
    first.record_transmission(41, 5000);
    first.record_transmission(57, 9000);
    CHECK(first.transmissions == 2);
    CHECK(first.first_seq == 41);
    CHECK(first.first_sent_ns == 5000);
    CHECK(first.last_seq == 57);
    CHECK(first.last_sent_ns == 9000);
    CHECK(w->queued() == 4);
    CHECK(w->flight() == 1);
    CHECK(w->pipe() == 1);
    CHECK(w->outstanding(1) == &first);
    CHECK(w->outstanding(2) == nullptr);  // accepted, not transmitted
    CHECK(w->outstanding(0) == nullptr);
}

TEST_CASE("send window: at most 64 messages in flight, and payloads no larger than a jumbo frame's") {
    auto w = window_with(SendWindow::kSize);
    const std::uint8_t byte = 0;
    CHECK_FALSE(w->accept(FrameType::data, 0, {&byte, 1}));
    CHECK(w->in_flight() == 64);
    transmit_all(*w);
    ack(*w, 1, 0);
    CHECK(w->accept(FrameType::data, 0, {&byte, 1}));
    CHECK(w->next_msg() == 66);
    std::vector<std::uint8_t> big(kMaxPayload + 1);
    auto v = window_with(0);
    CHECK_FALSE(v->accept(FrameType::data, 0, big));
    big.pop_back();
    CHECK(v->accept(FrameType::data, 0, big));
}

TEST_CASE("send window: a cumulative ack retires messages in order and each is delivered once") {
    auto w = window_with(10);
    transmit_all(*w);
    SendWindow::AckResult r{};
    CHECK(ack(*w, 4, 0, &r) == std::vector<std::uint64_t>{1, 2, 3, 4});
    CHECK(r == SendWindow::AckResult::progress);
    CHECK(w->acked() == 4);
    CHECK(w->flight() == 6);
    CHECK(ack(*w, 4, 0, &r).empty());  // the same ack again
    CHECK(r == SendWindow::AckResult::no_progress);
    CHECK(ack(*w, 2, 0, &r).empty());  // an old ack, reordered
    CHECK(r == SendWindow::AckResult::no_progress);
    CHECK(w->acked() == 4);
    CHECK(ack(*w, 10, 0) == std::vector<std::uint64_t>{5, 6, 7, 8, 9, 10});
    CHECK(w->acked_everything());
    CHECK_FALSE(w->any_outstanding());
}

TEST_CASE("send window: an ack of a message never transmitted is refused whole") {
    auto w = window_with(10);
    for (int i = 0; i < 3; ++i) w->take_queued().record_transmission(1 + static_cast<std::uint64_t>(i), 0);
    SendWindow::AckResult r{};
    CHECK(ack(*w, 3, 0, &r).size() == 3);  // 1, 2 and 3 were transmitted
    CHECK(r == SendWindow::AckResult::progress);
    CHECK(ack(*w, 4, 0, &r).empty());  // 4 is accepted but queued
    CHECK(r == SendWindow::AckResult::invalid);
    CHECK(w->acked() == 3);
    CHECK(ack(*w, ~std::uint64_t{0} - 1, 0, &r).empty());
    CHECK(r == SendWindow::AckResult::invalid);
}

TEST_CASE("send window: selective acks fill the scoreboard once; the cumulative ack then skips them") {
    auto w = window_with(10);
    transmit_all(*w);
    // The peer holds 1, then 3, 4 and 7 above the hole at 2.
    CHECK(ack(*w, 1, bit(1, 3) | bit(1, 4) | bit(1, 7)) == std::vector<std::uint64_t>{1, 3, 4, 7});
    CHECK(w->sacked_count() == 3);
    CHECK(w->flight() == 9);
    CHECK(w->pipe() == 6);
    CHECK(w->outstanding(3)->sacked);
    // Repeated: nothing new.
    CHECK(ack(*w, 1, bit(1, 3) | bit(1, 4) | bit(1, 7)).empty());
    // The hole fills: 2 is new, 3 and 4 were delivered already.
    CHECK(ack(*w, 4, bit(4, 7)) == std::vector<std::uint64_t>{2});
    CHECK(w->sacked_count() == 1);
    CHECK(w->pipe() == 5);
    // Bits beyond what was sent are ignored.
    CHECK(ack(*w, 4, bit(4, 10) | (std::uint64_t{1} << 40)) == std::vector<std::uint64_t>{10});
    CHECK(ack(*w, 10, 0) == std::vector<std::uint64_t>{5, 6, 8, 9});
    CHECK(w->sacked_count() == 0);
}

TEST_CASE("send window: lost messages leave the pipe until resent or shown to have arrived") {
    auto w = window_with(8);
    transmit_all(*w);
    w->mark_lost(*w->outstanding(2), false);
    w->mark_lost(*w->outstanding(3), true);
    CHECK(w->lost_count() == 2);
    CHECK(w->pipe() == 6);
    CHECK(w->outstanding(3)->lost_by_timeout);
    w->clear_lost(*w->outstanding(2));  // resent
    w->clear_lost(*w->outstanding(2));  // twice is harmless
    CHECK(w->lost_count() == 1);
    CHECK(ack(*w, 0, bit(0, 3)) == std::vector<std::uint64_t>{3});  // it arrived after all
    CHECK(w->lost_count() == 0);
    CHECK_FALSE(w->outstanding(3)->lost);
    w->mark_lost(*w->outstanding(5), false);
    CHECK(ack(*w, 8, 0).size() == 7);  // 3 was delivered by the sack
    CHECK(w->lost_count() == 0);
    CHECK(w->pipe() == 0);
}

TEST_CASE("send window: the scoreboard queries loss detection uses") {
    auto w = window_with(12);
    transmit_all(*w);  // message m in frame 100 + m
    CHECK(w->nth_newest_sacked_seq(1) == 0);
    ack(*w, 2, bit(2, 5) | bit(2, 6) | bit(2, 9) | bit(2, 11));
    CHECK(w->sacked_after(2) == 4);
    CHECK(w->sacked_after(5) == 3);
    CHECK(w->sacked_after(9) == 1);
    CHECK(w->sacked_after(11) == 0);
    CHECK(w->nth_newest_sacked_seq(1) == 111);
    CHECK(w->nth_newest_sacked_seq(3) == 106);
    CHECK(w->nth_newest_sacked_seq(4) == 105);
    CHECK(w->nth_newest_sacked_seq(5) == 0);
    CHECK(w->newest_unsacked()->msg == 12);
    ack(*w, 2, bit(2, 12));
    CHECK(w->newest_unsacked()->msg == 10);
    ack(*w, 12, 0);
    CHECK(w->newest_unsacked() == nullptr);
}

TEST_CASE("send window: slots are reused as the window slides over thousands of messages") {
    auto w = window_with(0);
    std::uint64_t delivered = 0;
    std::uint64_t next_payload = 0;
    for (int round = 0; round < 500; ++round) {
        while (w->in_flight() < 40) {
            const std::uint8_t b = static_cast<std::uint8_t>(next_payload++);
            REQUIRE(w->accept(FrameType::pages, 0, {&b, 1}));
        }
        transmit_all(*w);
        // Everything but the oldest outstanding is sacked, then the cumulative ack catches up.
        const std::uint64_t base = w->acked();
        std::uint64_t bits = 0;
        for (std::uint64_t m = base + 2; m < w->snd_nxt(); ++m) bits |= bit(base, m);
        auto first = ack(*w, base, bits);
        auto second = ack(*w, w->snd_nxt() - 1, 0);
        REQUIRE(first.size() == 39);
        REQUIRE(second == std::vector<std::uint64_t>{base + 1});
        delivered += first.size() + second.size();
        REQUIRE(w->acked_everything());
        REQUIRE(w->sacked_count() == 0);
    }
    CHECK(delivered == 500 * 40);
    CHECK(w->next_msg() == delivered + 1);
}
