// A deterministic simulated replication link for the transport tests: two ports, a simulated
// clock, and per-frame faults drawn from a seeded PRNG (loss, duplication, reordering through
// random delays or hold-backs, bit-flip corruption anywhere in the frame, and a full partition
// that can be started and healed). It counts every fault it injects so tests can relate outcomes
// to faults, and can capture frames for replay tests.
//
// Optionally each direction has a bottleneck after the faults: a drop-tail FIFO of
// `queue_frames` frames served at `frames_per_ms` (every frame takes one slot and the same time,
// whatever its size), then `propagation_ns` of delay. That models the emulators' link: Bochs'
// socket backend hands the guest NIC at most one frame per millisecond, and what waits meanwhile
// sits in a finite socket buffer; on real hardware it is a fast wire into a receive ring.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "replication/link/transport.hpp"

namespace test {

class SimClock final : public tandem::link::Clock {
public:
    std::uint64_t now_ns() override { return now; }
    std::uint64_t now = 1'000'000'000;  // start at 1 s: time 0 is not special anywhere
};

struct LinkFaults {
    double loss = 0;        // probability a frame is dropped
    double duplicate = 0;   // probability a frame is delivered twice
    double corrupt = 0;     // probability a delivered copy has one bit flipped
    std::uint64_t min_delay_ns = 50'000;
    std::uint64_t jitter_ns = 0;  // uniform extra delay: frames overtake each other (reordering)
    double reorder = 0;           // probability a copy is held back by an extra uniform (0, reorder_max_ns]
    std::uint64_t reorder_max_ns = 0;
};

// A rate-limited, queueing direction (frames_per_ms 0: none, frames only see the faults' delays).
struct Bottleneck {
    double frames_per_ms = 0;
    std::size_t queue_frames = 100;     // frames waiting or in service; one more is dropped
    std::uint64_t propagation_ns = 0;   // after service
};

struct SimLinkStats {
    std::uint64_t sent = 0;
    std::uint64_t lost = 0;
    std::uint64_t partitioned = 0;
    std::uint64_t duplicated = 0;
    std::uint64_t corrupted = 0;   // corrupted copies delivered
    std::uint64_t delivered = 0;
    std::uint64_t reordered = 0;   // copies held back (LinkFaults::reorder)
    std::uint64_t queue_drops = 0;  // dropped at a full bottleneck queue
    std::uint64_t max_queue = 0;    // most frames queued at once at the bottleneck
};

class SimLink {
public:
    class Port final : public tandem::link::FrameChannel {
    public:
        tandem::Status transmit(std::span<const std::uint8_t> frame) override {
            link_->send(side_, frame);
            return tandem::success();
        }

    private:
        friend class SimLink;
        SimLink* link_ = nullptr;
        int side_ = 0;
    };

    SimLink(SimClock& clock, std::uint64_t seed) : clock_(clock), rng_(seed) {
        for (int i = 0; i < 2; ++i) {
            ports_[i].link_ = this;
            ports_[i].side_ = i;
        }
    }

    Port& port(int side) { return ports_[side]; }
    void attach(int side, tandem::link::Transport* t) {
        receivers_[side] = t == nullptr ? Receiver{} : Receiver{[t](std::span<const std::uint8_t> f) { t->on_frame(f); }};
    }
    // Frames for `side` go to `receive` instead (a NIC feed in front of the transport).
    using Receiver = std::function<void(std::span<const std::uint8_t>)>;
    void attach_receiver(int side, Receiver receive) { receivers_[side] = std::move(receive); }
    void set_faults(const LinkFaults& f) { faults_[0] = faults_[1] = f; }
    void set_faults(int from_side, const LinkFaults& f) { faults_[from_side] = f; }
    void set_bottleneck(const Bottleneck& b) { bottleneck_[0] = bottleneck_[1] = b; }
    void set_bottleneck(int from_side, const Bottleneck& b) { bottleneck_[from_side] = b; }
    const Bottleneck& bottleneck(int from_side) const { return bottleneck_[from_side]; }
    // Frames waiting at the bottleneck towards the other side now.
    std::size_t queued(int from_side) {
        expire(from_side, clock_.now);
        return departures_[from_side].size();
    }
    void set_partitioned(bool on) { partitioned_ = on; }
    // Frames from `from_side` for which the filter returns false are dropped (counted as lost).
    void set_filter(int from_side, std::function<bool(std::span<const std::uint8_t>)> f) { filters_[from_side] = std::move(f); }
    void set_capture(int from_side, bool on) { capture_[from_side] = on; }
    const std::vector<std::vector<std::uint8_t>>& captured(int from_side) const { return captured_[from_side]; }
    const SimLinkStats& stats(int from_side) const { return stats_[from_side]; }

    void send(int from, std::span<const std::uint8_t> frame) {
        SimLinkStats& s = stats_[from];
        ++s.sent;
        if (capture_[from]) captured_[from].emplace_back(frame.begin(), frame.end());
        if (partitioned_) {
            ++s.partitioned;
            return;
        }
        if (filters_[from] && !filters_[from](frame)) {
            ++s.lost;
            return;
        }
        const LinkFaults& f = faults_[from];
        if (chance(f.loss)) {
            ++s.lost;
            return;
        }
        int copies = 1;
        if (chance(f.duplicate)) {
            ++copies;
            ++s.duplicated;
        }
        for (int c = 0; c < copies; ++c) {
            Pending p;
            p.to = 1 - from;
            p.bytes.assign(frame.begin(), frame.end());
            if (chance(f.corrupt) && !p.bytes.empty()) {
                std::size_t bit = rng_() % (p.bytes.size() * 8);
                p.bytes[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
                p.corrupted = true;
            }
            std::uint64_t delay = f.min_delay_ns + (f.jitter_ns ? rng_() % f.jitter_ns : 0);
            if (chance(f.reorder) && f.reorder_max_ns != 0) {
                delay += 1 + rng_() % f.reorder_max_ns;
                ++s.reordered;
            }
            // With a bottleneck the copy reaches its queue after the delay, and is delivered later.
            p.at_bottleneck = bottleneck_[from].frames_per_ms > 0;
            queue_.emplace(Key{clock_.now + delay, order_++}, std::move(p));
        }
    }

    // Injects raw bytes as if they arrived from the other side now.
    void inject(int to, std::span<const std::uint8_t> bytes) { receivers_[to](bytes); }

    // Delivers every frame due at or before now (frames sent meanwhile, if due, too), except
    // to a side held busy (set_held: it is in the middle of something and cannot receive; its
    // frames wait, in order).
    void deliver_due() {
        std::vector<std::pair<Key, Pending>> waiting;
        while (!queue_.empty() && queue_.begin()->first.due <= clock_.now) {
            const std::uint64_t at = queue_.begin()->first.due;
            if (held_[queue_.begin()->second.to] && !queue_.begin()->second.at_bottleneck) {
                waiting.emplace_back(queue_.begin()->first, std::move(queue_.begin()->second));
                queue_.erase(queue_.begin());
                continue;
            }
            Pending p = std::move(queue_.begin()->second);
            queue_.erase(queue_.begin());
            SimLinkStats& s = stats_[1 - p.to];
            if (p.at_bottleneck) {
                enqueue(1 - p.to, at, std::move(p));
                continue;
            }
            ++s.delivered;
            if (p.corrupted) ++s.corrupted;
            if (receivers_[p.to]) receivers_[p.to](p.bytes);
        }
        for (auto& w : waiting) queue_.emplace(w.first, std::move(w.second));
    }
    void set_held(int side, bool held) { held_[side] = held; }

    bool idle() const { return queue_.empty(); }
    std::uint64_t next_due() const { return queue_.empty() ? ~std::uint64_t{0} : queue_.begin()->first.due; }

private:
    struct Key {
        std::uint64_t due;
        std::uint64_t order;
        bool operator<(const Key& o) const { return due != o.due ? due < o.due : order < o.order; }
    };
    struct Pending {
        int to = 0;
        bool corrupted = false;
        bool at_bottleneck = false;  // the event is the arrival at the bottleneck queue
        std::vector<std::uint8_t> bytes;
    };

    bool held_[2] = {false, false};
    bool chance(double p) { return p > 0 && std::uniform_real_distribution<double>(0, 1)(rng_) < p; }

    // Forgets the frames of direction `from` that left the bottleneck by `at`.
    void expire(int from, std::uint64_t at) {
        auto& d = departures_[from];
        while (!d.empty() && d.front() <= at) d.pop_front();
    }

    // A copy reaches the bottleneck of direction `from` at time `at`: drop-tail, FIFO service.
    void enqueue(int from, std::uint64_t at, Pending p) {
        const Bottleneck& b = bottleneck_[from];
        SimLinkStats& s = stats_[from];
        expire(from, at);
        auto& d = departures_[from];
        if (d.size() >= b.queue_frames) {
            ++s.queue_drops;
            return;
        }
        const auto service = static_cast<std::uint64_t>(1'000'000.0 / b.frames_per_ms);
        std::uint64_t start = d.empty() ? at : (d.back() > at ? d.back() : at);
        d.push_back(start + service);
        if (d.size() > s.max_queue) s.max_queue = d.size();
        p.at_bottleneck = false;
        queue_.emplace(Key{start + service + b.propagation_ns, order_++}, std::move(p));
    }

    SimClock& clock_;
    std::mt19937_64 rng_;
    Port ports_[2];
    Receiver receivers_[2];
    LinkFaults faults_[2];
    Bottleneck bottleneck_[2];
    std::deque<std::uint64_t> departures_[2];  // when each frame at the bottleneck leaves it
    bool partitioned_ = false;
    std::function<bool(std::span<const std::uint8_t>)> filters_[2];
    bool capture_[2] = {false, false};
    std::vector<std::vector<std::uint8_t>> captured_[2];
    SimLinkStats stats_[2];
    std::map<Key, Pending> queue_;
    std::uint64_t order_ = 0;
};

}  // namespace test
