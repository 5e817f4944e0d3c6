// Transport::report() (replication/link/transport_report.cpp): the lines of the `link` command,
// in their order, for a transport that never started, an established pair and a refused one.
#include <doctest/doctest.h>

#include <sstream>
#include <string>
#include <vector>

#include "link_pair.hpp"

using namespace tandem;
using namespace tandem::link;

namespace {

constexpr std::uint64_t kSecond = 1'000'000'000;

std::vector<std::string> lines_of(const Transport& t) {
    std::vector<std::string> lines;
    std::istringstream in(test::report_of(t));
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

bool starts_with(const std::string& s, std::string_view prefix) { return s.compare(0, prefix.size(), prefix) == 0; }

}  // namespace

TEST_CASE("transport report: a transport never started says idle and has no peer line") {
    test::LinkPair p(21);
    auto lines = lines_of(*p.transport[0]);
    REQUIRE(lines.size() == 6);
    CHECK(lines[0] ==
          "link: idle as primary, session 0x0000000000000000, peer session 0x0000000000000000, MTU 1500, window 64");
    CHECK(lines[1] == "link: ChaCha20-Poly1305, key id 0x0000000000000000");
    CHECK(lines[2] == "link: frames sent 0 received 0; messages sent 0 delivered 0 in flight 0");
    CHECK(starts_with(lines[3], "link: retransmitted 0 (fast 0, timeouts 0, probes 0, spurious 0), window halvings 0"));
    CHECK(lines[4] == "link: rtt 0 us (variation 0 us, min 0 us), retransmission timeout 20000 us; congestion window 0 "
                      "(threshold 0, no queue), 0 queued");
    CHECK(starts_with(lines[5], "link: rejected: bad tag 0, replay 0"));
}

TEST_CASE("transport report: an established link, its counters, round trip and the peer last heard") {
    test::LinkPair p(22);
    p.target[0] = 50;
    REQUIRE(p.start().ok());
    REQUIRE(p.run_until([&] { return p.all_delivered(); }, 10 * kSecond));
    const Transport& t = *p.transport[0];
    auto lines = lines_of(t);
    REQUIRE(lines.size() == 7);
    CHECK(starts_with(lines[0], "link: established as primary, session 0x"));
    CHECK(lines[0].find(", MTU 1500, window 64") != std::string::npos);
    std::ostringstream traffic;
    traffic << "link: frames sent " << t.stats().frames_sent << " received " << t.stats().frames_received
            << "; messages sent 50 delivered 0 in flight 0";
    CHECK(lines[2] == traffic.str());
    std::ostringstream rtt;
    rtt << "link: rtt " << t.srtt_ns() / 1000 << " us";
    CHECK(starts_with(lines[4], rtt.str()));
    CHECK(lines[4].find("congestion window " + std::to_string(t.cwnd()) + " ") != std::string::npos);
    CHECK(starts_with(lines[6], "link: peer last heard "));
}

TEST_CASE("transport report: a refused link says why, on the line after the state") {
    test::LinkPair p(23);
    p.config[1].page_size = 8192;
    REQUIRE(p.start().ok());
    REQUIRE(p.run_until([&] { return p.transport[0]->refusal() != nullptr; }, kSecond));
    auto lines = lines_of(*p.transport[0]);
    REQUIRE(lines.size() == 8);
    CHECK(starts_with(lines[0], "link: refused as primary"));
    CHECK(lines[2] == "link refused: page size mismatch: local 4096, peer 8192");
    CHECK(starts_with(lines[7], "link: peer "));
}
