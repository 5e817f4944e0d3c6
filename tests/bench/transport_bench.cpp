// Host throughput of the replication transport (framing, ChaCha20-Poly1305, windows, acks) over
// an in-memory simulated link, clean and with faults: how much payload one core can push
// through the protocol when the wire is free. Figures, never pass/fail. The on-wire linktest
// between two machines (mode=linktest) is measured end to end elsewhere.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "tests/unit/link_pair.hpp"

namespace {

struct Result {
    double cpu_seconds = 0;
    double sim_seconds = 0;
    std::uint64_t bytes = 0;
    tandem::link::TransportStats stats[2];
};

Result run(std::uint16_t mtu, std::uint64_t messages, const test::LinkFaults& faults) {
    test::LinkPair p(2026);
    p.config[0].mtu = p.config[1].mtu = mtu;
    p.link.set_faults(faults);
    p.target[0] = messages;  // one direction: primary -> backup, full-size messages
    if (!p.start()) std::abort();
    if (!p.run_until([&] { return p.both_established(); }, 1'000'000'000)) std::abort();
    std::size_t size = p.transport[0]->max_message_size();
    std::uint64_t sent = 0, sim_start = p.clock.now;
    auto start = std::chrono::steady_clock::now();
    std::vector<std::uint8_t> payload(size, 0x3c);
    while (p.transport[1]->stats().messages_delivered < messages || !p.transport[0]->acked_everything()) {
        p.link.deliver_due();
        p.transport[0]->poll();
        p.transport[1]->poll();
        while (sent < messages && p.transport[0]->can_send()) {
            (void)p.transport[0]->send(tandem::link::FrameType::pages, sent, payload);
            ++sent;
        }
        std::uint64_t next = p.link.next_due();
        p.clock.now = next != ~std::uint64_t{0} && next > p.clock.now ? next : p.clock.now + 100'000;
        if (p.clock.now - sim_start > 3600ull * 1'000'000'000) std::abort();
    }
    Result r;
    r.cpu_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    r.sim_seconds = static_cast<double>(p.clock.now - sim_start) / 1e9;
    r.bytes = messages * size;
    r.stats[0] = p.transport[0]->stats();
    r.stats[1] = p.transport[1]->stats();
    return r;
}

}  // namespace

// LinkPair's sinks expect the unit tests' payloads; this bench sends constant ones and counts
// deliveries through the transport's statistics instead.
int main(int argc, char** argv) {
    std::uint64_t messages = argc > 1 ? std::strtoull(argv[1], nullptr, 0) : 20000;
    std::printf("tandem transport benchmark: %llu full-size messages primary -> backup over an in-memory link, "
                "one core\n", static_cast<unsigned long long>(messages));
    std::printf("reproduce: cmake -S . -B build -G Ninja && ninja -C build transport_bench && "
                "build/tests/bench/transport_bench [messages]\n");
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
    } cases[] = {{"MTU 1500, clean", 1500, &clean},
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
    return 0;
}
