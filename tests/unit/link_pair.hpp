// Two transports (side 0 = primary, side 1 = backup) over a SimLink, with message sinks that
// check exactly-once, in-order delivery of deterministic payloads, and a pump that advances the
// simulated clock. Used by test_transport*.cpp and test_handshake*.cpp. LinkTestPair runs the
// link self-test (linktest.hpp: full-size messages, every byte checked) the same way.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "link_sim.hpp"
#include "replication/link/linktest.hpp"
#include "replication/link/transport.hpp"

namespace test {

inline std::uint64_t mix64(std::uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

// Message `index` (0-based) sent by `side`: mostly small, every 16th as large as allowed.
inline std::vector<std::uint8_t> make_payload(int side, std::uint64_t index, std::size_t max_size) {
    std::uint64_t h = mix64(index * 2 + static_cast<std::uint64_t>(side) + 1);
    std::size_t size = index % 16 == 15 ? max_size : static_cast<std::size_t>(h % 160);
    std::vector<std::uint8_t> p(size);
    for (std::size_t i = 0; i < size; ++i) p[i] = static_cast<std::uint8_t>(mix64(h + i) >> 24);
    return p;
}

class Inbox final : public tandem::link::MessageSink {
public:
    explicit Inbox(int from_side) : from_side_(from_side) {}
    void on_message(const tandem::link::Message& m) override {
        if (!failure.empty()) return;
        std::ostringstream why;
        if (m.number != received + 1) {
            why << "message number " << m.number << " delivered, expected " << received + 1;
        } else if (m.type != tandem::link::FrameType::data || m.epoch != received) {
            why << "message " << m.number << " has type " << static_cast<int>(m.type) << " epoch " << m.epoch;
        } else if (std::vector<std::uint8_t>(m.payload.begin(), m.payload.end()) !=
                   make_payload(from_side_, received, max_size)) {
            why << "message " << m.number << " payload differs (" << m.payload.size() << " bytes)";
        }
        failure = why.str();
        if (failure.empty()) ++received;
    }
    std::uint64_t received = 0;
    std::size_t max_size = 0;
    std::string failure;

private:
    int from_side_;
};

inline tandem::link::TransportTiming test_timing() {
    tandem::link::TransportTiming t;
    t.hello_interval_ns = 10'000'000;
    t.heartbeat_interval_ns = 5'000'000;
    t.silence_timeout_ns = 300'000'000;
    t.initial_rto_ns = 5'000'000;
    t.min_rto_ns = 1'000'000;
    t.max_rto_ns = 50'000'000;
    t.ack_delay_ns = 200'000;
    t.nack_interval_ns = 500'000;
    return t;
}

inline tandem::link::LinkSecret secret_for(std::uint8_t key_byte) {
    std::array<std::uint8_t, 32> key{};
    for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<std::uint8_t>(key_byte + i * 7);
    auto s = tandem::link::make_link_secret(true, key, false);
    return s.value();
}

// Side s's configuration (0 = primary, 1 = backup) with the tests' timing.
inline tandem::link::TransportConfig pair_config(std::uint64_t seed, int s) {
    const tandem::MacAddress macs[2] = {{{0x02, 0, 0, 0, 0, 0x01}}, {{0x02, 0, 0, 0, 0, 0x02}}};
    tandem::link::TransportConfig c;
    c.role = s == 0 ? tandem::Role::primary : tandem::Role::backup;
    c.session_id = mix64(seed * 4 + static_cast<std::uint64_t>(s) + 1) | 1;
    c.local_mac = macs[s];
    c.has_peer_mac = true;
    c.peer_mac = macs[1 - s];
    c.guest_memory = 256ull << 20;
    c.timing = test_timing();
    return c;
}

struct LinkPair {
    explicit LinkPair(std::uint64_t seed) : link(clock, seed), inbox{Inbox(1), Inbox(0)} {
        for (int s = 0; s < 2; ++s) {
            config[s] = pair_config(seed, s);
            secret[s] = secret_for(0x40);
            transport[s] = std::make_unique<tandem::link::Transport>(link.port(s), clock, inbox[s]);
            link.attach(s, transport[s].get());
        }
    }

    tandem::Status start() {
        for (int s = 0; s < 2; ++s) {
            if (auto st = transport[s]->start(config[s], secret[s]); !st) return st;
        }
        return tandem::success();
    }

    // One round: deliver due frames, poll both, send what the windows allow, advance time.
    void step(std::uint64_t tick_ns = 100'000) {
        link.deliver_due();
        for (int s = 0; s < 2; ++s) transport[s]->poll();
        for (int s = 0; s < 2; ++s) {
            tandem::link::Transport& t = *transport[s];
            inbox[1 - s].max_size = t.max_message_size();
            while (sent[s] < target[s] && t.can_send()) {
                auto payload = make_payload(s, sent[s], t.max_message_size());
                auto st = t.send(tandem::link::FrameType::data, sent[s], payload);
                if (!st) break;
                ++sent[s];
            }
        }
        std::uint64_t next = link.next_due();
        std::uint64_t limit = clock.now + tick_ns;
        clock.now = next > clock.now && next < limit ? next : limit;
    }

    // Steps until done() or `limit_ns` of simulated time passed; true when done.
    bool run_until(const std::function<bool()>& done, std::uint64_t limit_ns) {
        std::uint64_t end = clock.now + limit_ns;
        while (clock.now < end) {
            if (done()) return true;
            step();
        }
        return done();
    }

    bool both_established() const { return transport[0]->established() && transport[1]->established(); }
    bool all_delivered() const {
        return inbox[1].received == target[0] && inbox[0].received == target[1] && transport[0]->acked_everything() &&
               transport[1]->acked_everything();
    }
    void run_for(std::uint64_t ns) {
        std::uint64_t end = clock.now + ns;
        while (clock.now < end) step();
    }

    SimClock clock;
    SimLink link;
    Inbox inbox[2];  // inbox[s] receives what side 1 - s sends
    tandem::link::TransportConfig config[2];
    tandem::link::LinkSecret secret[2];
    std::unique_ptr<tandem::link::Transport> transport[2];
    std::uint64_t sent[2] = {0, 0};
    std::uint64_t target[2] = {0, 0};
};

// The link self-test between two transports over a SimLink, `bytes` each way, as mode=linktest
// runs it on the machines: receive, poll, pump, over and over, with the machine's default timing.
// Times are simulated; goodput is payload bytes per second.
struct LinkTestPair {
    LinkTestPair(std::uint64_t seed, std::uint64_t bytes)
        : link(clock, seed),
          test{std::make_unique<tandem::link::LinkTest>(tandem::Role::primary, bytes),
               std::make_unique<tandem::link::LinkTest>(tandem::Role::backup, bytes)} {
        for (int s = 0; s < 2; ++s) {
            config[s] = pair_config(seed, s);
            config[s].timing = tandem::link::TransportTiming{};  // the machine's defaults
            secret[s] = secret_for(0x40);
            transport[s] = std::make_unique<tandem::link::Transport>(link.port(s), clock, *test[s]);
            test[s]->attach(*transport[s]);
            link.attach(s, transport[s].get());
        }
    }

    tandem::Status start() {
        for (int s = 0; s < 2; ++s) {
            if (auto st = transport[s]->start(config[s], secret[s]); !st) return st;
        }
        return tandem::success();
    }

    void step(std::uint64_t tick_ns = 100'000) {
        link.deliver_due();
        for (int s = 0; s < 2; ++s) transport[s]->poll();
        for (int s = 0; s < 2; ++s) test[s]->pump();
        for (int s = 0; s < 2; ++s) {
            if (done_at[s] == 0 && test[s]->sent_everything() && transport[s]->acked_everything()) done_at[s] = clock.now;
            if (received_at[s] == 0 && test[s]->received_everything()) received_at[s] = clock.now;
        }
        if (established_at == 0 && transport[0]->established() && transport[1]->established()) established_at = clock.now;
        std::uint64_t next = link.next_due();
        std::uint64_t limit = clock.now + tick_ns;
        clock.now = next > clock.now && next < limit ? next : limit;
    }

    bool finished() const { return received_at[0] != 0 && received_at[1] != 0 && done_at[0] != 0 && done_at[1] != 0; }

    // Steps until both sides have sent, had acknowledged and received everything, or `limit_ns`
    // of simulated time passed; true when finished.
    bool run(std::uint64_t limit_ns) {
        std::uint64_t end = clock.now + limit_ns;
        while (clock.now < end && !finished()) step();
        return finished();
    }

    // Seconds from establishment until side `to` had received everything from the other side.
    double transfer_seconds(int to) const {
        return static_cast<double>(received_at[to] - established_at) / 1e9;
    }
    // Payload bytes per second delivered to side `to`.
    double goodput(int to) const { return static_cast<double>(test[to]->bytes_received()) / transfer_seconds(to); }
    // Payload bytes per second the bottleneck towards `to` carries when every frame is a full message.
    double bottleneck_rate(int to) const {
        return link.bottleneck(1 - to).frames_per_ms * 1000.0 * static_cast<double>(transport[0]->max_message_size());
    }

    SimClock clock;
    SimLink link;
    std::unique_ptr<tandem::link::LinkTest> test[2];
    tandem::link::TransportConfig config[2];
    tandem::link::LinkSecret secret[2];
    std::unique_ptr<tandem::link::Transport> transport[2];
    std::uint64_t established_at = 0;
    std::uint64_t done_at[2] = {0, 0};      // side s: everything it sent acknowledged
    std::uint64_t received_at[2] = {0, 0};  // side s: everything from the peer received
};

inline std::uint64_t rejected_total(const tandem::link::TransportStats& s) {
    return s.rejected_bad_tag + s.rejected_malformed + s.rejected_session + s.rejected_source + s.ignored +
           s.rejected_replay;
}

inline std::string report_of(const tandem::link::Transport& t) {
    struct W final : tandem::Writer {
        void write(std::string_view text) override { s.append(text); }
        std::string s;
    } w;
    t.report(w);
    return w.s;
}

}  // namespace test
