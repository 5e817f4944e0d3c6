// The replication transport over an in-memory simulated link. Figures, never pass/fail.
//  1. Host throughput (framing, ChaCha20-Poly1305, windows, acks), clean and with faults: how
//     much payload one core can push through the protocol when the wire is free.
//  2. The link self-test (linktest.hpp, both directions at once) over bottleneck profiles in
//     simulated time: goodput against what the bottleneck carries, the retransmission ratio, and
//     what the congestion control ended with. The Bochs-like profile is the emulators' link (one
//     frame per millisecond into a socket buffer of about a hundred frames); the fast one is
//     hardware-like. The on-wire linktest between two machines (mode=linktest) is measured end to
//     end elsewhere.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "tests/unit/link_pair.hpp"
// The bench target (tests/bench/CMakeLists.txt) compiles the link sources it measures itself,
// and linktest.cpp is not among them: built here, with the bench's flags.
#include "replication/link/linktest.cpp"  // NOLINT(bugprone-suspicious-include)

namespace {

struct Result {
    double cpu_seconds = 0;
    double sim_seconds = 0;
    std::uint64_t bytes = 0;
    tandem::link::TransportStats stats[2];
};

Result run(std::uint16_t mtu, std::uint64_t messages, const test::LinkFaults& faults) {
    auto p = std::make_unique<test::LinkPair>(2026);
    p->config[0].mtu = p->config[1].mtu = mtu;
    p->link.set_faults(faults);
    p->target[0] = messages;  // one direction: primary -> backup, full-size messages
    if (!p->start()) std::abort();
    if (!p->run_until([&] { return p->both_established(); }, 1'000'000'000)) std::abort();
    std::size_t size = p->transport[0]->max_message_size();
    std::uint64_t sent = 0, sim_start = p->clock.now;
    auto start = std::chrono::steady_clock::now();
    std::vector<std::uint8_t> payload(size, 0x3c);
    while (p->transport[1]->stats().messages_delivered < messages || !p->transport[0]->acked_everything()) {
        p->link.deliver_due();
        p->transport[0]->poll();
        p->transport[1]->poll();
        while (sent < messages && p->transport[0]->can_send()) {
            (void)p->transport[0]->send(tandem::link::FrameType::pages, sent, payload);
            ++sent;
        }
        std::uint64_t next = p->link.next_due();
        p->clock.now = next != ~std::uint64_t{0} && next > p->clock.now ? next : p->clock.now + 100'000;
        if (p->clock.now - sim_start > 3600ull * 1'000'000'000) std::abort();
    }
    Result r;
    r.cpu_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    r.sim_seconds = static_cast<double>(p->clock.now - sim_start) / 1e9;
    r.bytes = messages * size;
    r.stats[0] = p->transport[0]->stats();
    r.stats[1] = p->transport[1]->stats();
    return r;
}

struct Profile {
    const char* name;
    test::Bottleneck bottleneck;
    test::LinkFaults faults;
};

// The link self-test over one profile; prints one line per direction.
void run_profile(const Profile& profile, std::uint64_t bytes) {
    auto p = std::make_unique<test::LinkTestPair>(2026, bytes);
    p->link.set_bottleneck(profile.bottleneck);
    p->link.set_faults(profile.faults);
    if (!p->start()) std::abort();
    if (!p->run(3600ull * 1'000'000'000)) {
        std::printf("%-44s did not finish\n", profile.name);
        return;
    }
    for (int to = 1; to >= 0; --to) {
        const int from = 1 - to;
        const tandem::link::TransportStats& s = p->transport[from]->stats();
        const tandem::link::Transport& t = *p->transport[from];
        const double sent = static_cast<double>(s.messages_sent);
        // What a full window per minimum round trip would carry: the limit no congestion control lifts.
        const double window_rate = static_cast<double>(p->config[from].window) *
                                   static_cast<double>(t.max_message_size()) /
                                   (static_cast<double>(t.min_rtt_ns() == 0 ? 1 : t.min_rtt_ns()) / 1e9);
        std::printf("%-44s %s %7.3f MB/s %5.1f%% of the bottleneck (%5.1f%% of window/min RTT) in %6.3f s; "
                    "retransmitted %5.2f%% (%llu: timeouts "
                    "%llu, probes %llu, spurious %llu), %.2f frames/message, duplicates %llu, window halvings %llu; "
                    "srtt %.1f ms (min %.1f), cwnd %u\n",
                    to == 1 ? profile.name : "", from == 0 ? "primary->backup" : "backup->primary", p->goodput(to) / 1e6,
                    100.0 * p->goodput(to) / p->bottleneck_rate(to), 100.0 * p->goodput(to) / window_rate,
                    p->transfer_seconds(to),
                    100.0 * static_cast<double>(s.retransmissions) / sent,
                    static_cast<unsigned long long>(s.retransmissions), static_cast<unsigned long long>(s.timeouts),
                    static_cast<unsigned long long>(s.probes), static_cast<unsigned long long>(s.spurious_retransmissions),
                    static_cast<double>(s.frames_sent) / sent,
                    static_cast<unsigned long long>(p->transport[to]->stats().duplicates),
                    static_cast<unsigned long long>(s.recoveries), static_cast<double>(t.srtt_ns()) / 1e6,
                    static_cast<double>(t.min_rtt_ns()) / 1e6, t.cwnd());
    }
}

}  // namespace

// LinkPair's sinks expect the unit tests' payloads; the throughput part sends constant ones and
// counts deliveries through the transport's statistics instead.
int main(int argc, char** argv) {
    std::uint64_t messages = argc > 1 ? std::strtoull(argv[1], nullptr, 0) : 20000;
    std::uint64_t mib = argc > 2 ? std::strtoull(argv[2], nullptr, 0) : 2;
    std::printf("tandem transport benchmark: %llu full-size messages primary -> backup over an in-memory link, "
                "one core\n", static_cast<unsigned long long>(messages));
    std::printf("reproduce: cmake -S . -B build -G Ninja && ninja -C build transport_bench && "
                "build/tests/bench/transport_bench [messages] [MiB for the bottleneck profiles]\n");
    std::printf("MB/s = payload bytes per second of host CPU time (the simulated wire takes no CPU)\n\n");
    test::LinkFaults clean;
    test::LinkFaults faulty;
    faulty.loss = 0.05;
    faulty.corrupt = 0.01;
    faulty.jitter_ns = 200'000;
    struct Case {
        const char* name;
        std::uint16_t mtu;
        const test::LinkFaults* faults;
    };
    static const Case cases[] = {{"MTU 1500, clean", 1500, &clean},
                                 {"MTU 1500, 5% loss + reordering + 1% corruption", 1500, &faulty},
                                 {"MTU 9000, clean", 9000, &clean},
                                 {"MTU 9000, 5% loss + reordering + 1% corruption", 9000, &faulty}};
    for (const Case& c : cases) {
        Result r = run(c.mtu, messages, *c.faults);
        std::printf("%-48s %8.1f MB/s  (%.2f s CPU; retransmitted %llu, rejected bad tag %llu)\n", c.name,
                    static_cast<double>(r.bytes) / r.cpu_seconds / 1e6, r.cpu_seconds,
                    static_cast<unsigned long long>(r.stats[0].retransmissions),
                    static_cast<unsigned long long>(r.stats[1].rejected_bad_tag));
    }

    std::printf("\nlink self-test, %llu MiB each way at once, MTU 1500, simulated time; goodput = payload delivered "
                "per second, against full frames at the bottleneck's rate\n",
                static_cast<unsigned long long>(mib));
    test::LinkFaults none;
    none.min_delay_ns = 0;
    test::LinkFaults hub = none;  // as the test hub's loss=0.05 reorder=0.05 corrupt=0.01
    hub.loss = 0.05;
    hub.corrupt = 0.01;
    hub.reorder = 0.05;
    hub.reorder_max_ns = 50'000'000;
    hub.jitter_ns = 300'000;
    test::LinkFaults damage = none;
    damage.loss = 0.01;
    test::Bottleneck bochs{1, 100, 100'000};
    test::Bottleneck shallow{1, 8, 100'000};
    test::Bottleneck fast{100, 1000, 1'000'000};
    static const Profile profiles[] = {
        {"Bochs-like (1 frame/ms, 100 queued, 0.1 ms)", bochs, none},
        {"Bochs-like + 5% loss/5% held/1% corrupt", bochs, hub},
        {"shallow queue (1 frame/ms, 8 queued)", shallow, none},
        {"fast (100 frames/ms, 1000 queued, 1 ms)", fast, none},
        {"fast + 1% loss", fast, damage},
    };
    for (const Profile& profile : profiles) run_profile(profile, mib << 20);
    return 0;
}
