// The receiver's half of reliable delivery on its own (replication/link/receive_window.hpp) and
// its ack policy (ack_schedule.hpp): synthetic message numbers and times, no link.
#include <doctest/doctest.h>

#include <memory>
#include <vector>

#include "replication/link/ack_schedule.hpp"
#include "replication/link/receive_window.hpp"

using namespace tandem::link;

namespace {

constexpr std::uint64_t kUs = 1'000;
constexpr std::uint64_t kMs = 1'000'000;

std::unique_ptr<ReceiveWindow> fresh_window() {
    auto w = std::make_unique<ReceiveWindow>();
    w->reset();
    return w;
}

// Stores message m with a one-byte payload m (the caller's decrypt step writes it).
ReceiveWindow::Stored put(ReceiveWindow& w, std::uint64_t m) {
    REQUIRE(w.classify(m) == ReceiveWindow::Arrival::fresh);
    ReceiveWindow::Stored s = w.store(m, FrameType::pages, 1000 + m, 1);
    REQUIRE(s.payload.size() == 1);
    s.payload[0] = static_cast<std::uint8_t>(m);
    return s;
}

// Takes every message ready, checking each carries what was stored for it.
std::vector<std::uint64_t> drain(ReceiveWindow& w) {
    std::vector<std::uint64_t> out;
    while (w.ready()) {
        Message m = w.take();
        CHECK(m.type == FrameType::pages);
        CHECK(m.epoch == 1000 + m.number);
        REQUIRE(m.payload.size() == 1);
        CHECK(m.payload[0] == static_cast<std::uint8_t>(m.number));
        out.push_back(m.number);
    }
    return out;
}

TransportTiming timing() {
    TransportTiming t;
    t.ack_delay_ns = 500 * kUs;
    t.min_rto_ns = 1 * kMs;
    t.nack_interval_ns = 1 * kMs;
    return t;
}

}  // namespace

TEST_CASE("receive window: messages in order are delivered at once, numbered from 1") {
    auto w = fresh_window();
    CHECK_FALSE(w->ready());
    CHECK(w->classify(0) == ReceiveWindow::Arrival::duplicate);  // message numbers start at 1
    auto s = put(*w, 1);
    CHECK(s.in_order);
    CHECK_FALSE(s.new_hole);
    CHECK(drain(*w) == std::vector<std::uint64_t>{1});
    CHECK(w->delivered() == 1);
    CHECK(w->ack_bitmap() == 0);
    CHECK(put(*w, 2).in_order);
    CHECK(drain(*w) == std::vector<std::uint64_t>{2});
}

TEST_CASE("receive window: out of order messages wait for the hole, then go in order") {
    auto w = fresh_window();
    auto s3 = put(*w, 3);
    CHECK_FALSE(s3.in_order);
    CHECK(s3.new_hole);  // 1 and 2 skipped
    CHECK_FALSE(w->ready());
    CHECK(w->ack_bitmap() == 0b10);  // bit i: message delivered + 2 + i
    auto s5 = put(*w, 5);
    CHECK(s5.new_hole);  // 4 skipped: a further hole
    auto s4 = put(*w, 4);
    CHECK_FALSE(s4.new_hole);  // fills a hole shown already
    CHECK_FALSE(s4.in_order);
    CHECK(w->ack_bitmap() == 0b1110);
    auto s2 = put(*w, 2);
    CHECK_FALSE(s2.new_hole);
    CHECK(w->ack_bitmap() == 0b1111);
    CHECK(put(*w, 1).in_order);
    CHECK(drain(*w) == std::vector<std::uint64_t>{1, 2, 3, 4, 5});
    CHECK(w->delivered() == 5);
    CHECK(w->ack_bitmap() == 0);
    CHECK(put(*w, 7).new_hole);
    CHECK_FALSE(put(*w, 8).new_hole);  // right above the highest held
}

TEST_CASE("receive window: duplicates, delivered or held, and messages beyond any window") {
    auto w = fresh_window();
    put(*w, 1);
    drain(*w);
    put(*w, 3);
    CHECK(w->classify(1) == ReceiveWindow::Arrival::duplicate);  // delivered
    CHECK(w->classify(3) == ReceiveWindow::Arrival::duplicate);  // held
    CHECK(w->classify(2) == ReceiveWindow::Arrival::fresh);
    CHECK(w->classify(1 + 64) == ReceiveWindow::Arrival::fresh);  // the window's far edge
    CHECK(w->classify(1 + 65) == ReceiveWindow::Arrival::beyond_window);
    CHECK(w->classify(~std::uint64_t{0}) == ReceiveWindow::Arrival::beyond_window);
}

TEST_CASE("receive window: the bitmap reaches 63 messages above the hole") {
    auto w = fresh_window();
    for (std::uint64_t m = 2; m <= 64; ++m) put(*w, m);
    CHECK(w->ack_bitmap() == ~std::uint64_t{0} >> 1);
    CHECK(w->classify(65) == ReceiveWindow::Arrival::beyond_window);  // it would take the hole's slot
    put(*w, 1);
    CHECK(drain(*w).size() == 64);
}

TEST_CASE("receive window: a message taken leaves the ack consistent for a send from the sink") {
    auto w = fresh_window();
    put(*w, 2);
    put(*w, 1);
    REQUIRE(w->ready());
    Message first = w->take();
    CHECK(first.number == 1);
    CHECK(w->delivered() == 1);      // what a frame sent from on_message() acknowledges
    CHECK(w->ack_bitmap() == 0);     // message 2 is the next, not a held one above a hole
    CHECK(w->ready());
    CHECK(w->take().number == 2);
    CHECK(w->classify(1) == ReceiveWindow::Arrival::duplicate);
}

TEST_CASE("ack schedule: an ack goes after ack_every messages, or at once for a duplicate") {
    AckSchedule a;
    a.reset(4, timing());
    CHECK_FALSE(a.due(true, 0));
    for (int i = 0; i < 3; ++i) a.on_message(kMs + static_cast<std::uint64_t>(i) * kUs);
    CHECK_FALSE(a.due(false, kMs + 3 * kUs));
    a.on_message(kMs + 3 * kUs);
    CHECK(a.due(false, kMs + 3 * kUs));
    CHECK_FALSE(a.nack_due());
    a.carried();  // a frame left with the ack
    CHECK_FALSE(a.due(true, 10 * kMs));
    a.on_duplicate();
    CHECK(a.due(false, 10 * kMs));
    a.carried();
    CHECK_FALSE(a.due(false, 10 * kMs));
}

TEST_CASE("ack schedule: a pending ack waits at most the ack timeout, counted by the poll only") {
    AckSchedule a;
    a.reset(4, timing());
    a.on_message(10 * kMs);
    CHECK(a.timeout() == 500 * kUs);  // no pace known yet: ack_delay
    CHECK_FALSE(a.due(true, 10 * kMs + 499 * kUs));
    CHECK(a.due(true, 10 * kMs + 500 * kUs));
    CHECK_FALSE(a.due(false, 10 * kMs + 500 * kUs));  // from on_frame(): only counts and duplicates
}

TEST_CASE("ack schedule: the timeout follows the pace of arrivals, at most 4 min_rto") {
    AckSchedule a;
    a.reset(4, timing());
    std::uint64_t t = 10 * kMs;
    for (int i = 0; i < 64; ++i) a.on_message(t += 300 * kUs);  // a message every 0.3 ms
    CHECK(a.arrival_gap_ns() > 290 * kUs);
    CHECK(a.arrival_gap_ns() <= 300 * kUs);
    CHECK(a.timeout() == 4 * a.arrival_gap_ns());  // ack_every gaps: above the 0.5 ms ack delay
    for (int i = 0; i < 64; ++i) a.on_message(t += 3 * kMs);  // slower: 3 ms apart
    CHECK(a.timeout() == 4 * kMs);                            // bounded by 4 min_rto
    a.on_message(t += 60 * kMs);  // a pause longer than any ack timeout: the end of a burst, not a gap
    CHECK(a.arrival_gap_ns() <= 3 * kMs);
}

TEST_CASE("ack schedule: a new hole asks for a NACK at once, at most one per nack_interval") {
    AckSchedule a;
    a.reset(4, timing());
    a.on_message(10 * kMs);
    a.on_new_hole(10 * kMs);
    CHECK(a.due(false, 10 * kMs));
    CHECK(a.nack_due());
    a.carried();
    CHECK_FALSE(a.nack_due());
    a.on_message(10 * kMs + 200 * kUs);
    a.on_new_hole(10 * kMs + 200 * kUs);  // too soon after the last one: acked as usual
    CHECK_FALSE(a.nack_due());
    CHECK_FALSE(a.due(false, 10 * kMs + 200 * kUs));
    a.on_message(11 * kMs);
    a.on_new_hole(11 * kMs);
    CHECK(a.nack_due());
}
