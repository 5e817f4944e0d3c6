// The pair's link as UDP over IPv4 (issue 15: link_ip=, peer_ip=, link_port=) through the
// production session objects on the host (session_rig.hpp), the link's frames passing through
// the NIC feed and its envelope (replication/link/udp_envelope.hpp): every frame on the wire is
// ARP or an IPv4 datagram between the two link addresses (read here outside tandem, header by
// header), the next hop is found by ARP, and the pair protects and fails over as on raw Ethernet.
#include <doctest/doctest.h>

#include <string>

#include "hypervisor/net/arp.hpp"
#include "hypervisor/net/udp_ipv4.hpp"
#include "json_schema_check.hpp"
#include "session_rig.hpp"

using namespace session_test;
using tandem::Role;

namespace {

tandem::Config over_udp(tandem::Config c, std::uint8_t own, std::uint8_t peer) {
    c.link_over_udp = true;
    const std::uint8_t own_ip[4] = {10, 1, 0, own}, peer_ip[4] = {10, 1, 0, peer};
    for (int i = 0; i < 4; ++i) c.link_ip[i] = own_ip[i], c.peer_ip[i] = peer_ip[i];
    c.link_prefix = 24;
    c.link_port = 7455;
    return c;
}

// What one side put on the wire, read outside tandem.
struct Wire {
    unsigned arp = 0, datagrams = 0, other = 0, bad = 0;
    std::size_t largest = 0;
    void see(std::span<const std::uint8_t> f, std::uint8_t from, std::uint8_t to) {
        largest = f.size() > largest ? f.size() : largest;
        if (tandem::net::parse_arp(f)) {
            ++arp;
            return;
        }
        tandem::net::UdpIpv4Parse p = tandem::net::parse_udp_ipv4(f);
        if (!p.ok()) {
            ++other;
            return;
        }
        bool ours = p.datagram.source_ip == (0x0a010000u | from) && p.datagram.destination_ip == (0x0a010000u | to) &&
                    p.datagram.source_port == 7455 && p.datagram.destination_port == 7455;
        ++(ours ? datagrams : bad);
    }
};

// The number after "name": in one line of JSON (-1 if absent).
long long json_number(const std::string& json, const std::string& name) {
    std::size_t at = json.find("\"" + name + "\":");
    return at == std::string::npos ? -1 : std::stoll(json.substr(at + name.size() + 3));
}

}  // namespace

TEST_CASE("pair over UDP/IPv4: ARP finds the peer, the backup protects and takes over; only ARP and the link's datagrams on the wire") {
    SessionPairRig rig(71);
    Wire from_a, from_b;
    rig.link.set_filter(0, [&](std::span<const std::uint8_t> f) { from_a.see(f, 2, 3); return true; });
    rig.link.set_filter(1, [&](std::span<const std::uint8_t> f) { from_b.see(f, 3, 2); return true; });
    auto& a = rig.add(over_udp(SessionPairRig::config(Role::primary), 2, 3), 0, 1);
    auto& b = rig.add(over_udp(SessionPairRig::config(Role::backup), 3, 2), 1, 2);
    REQUIRE(rig.run_until([&] { return SessionPairRig::is_protected(a, b); }, 20 * kSecond));
    rig.run_until([] { return false; }, kSecond / 2);
    CHECK(a.machine.out_.contains("link: UDP/IPv4 from 10.1.0.2/24 to 10.1.0.3, port 7455, via 10.1.0.3 (its MAC found "
                                  "by ARP)"));
    CHECK(from_a.arp >= 1);
    CHECK(from_b.arp >= 1);
    CHECK(from_a.datagrams > 100);  // the full copy and the epochs
    CHECK(from_b.datagrams > 10);   // hellos and acknowledgements
    CHECK(from_a.other + from_a.bad + from_b.other + from_b.bad == 0);
    CHECK(from_a.largest <= 1514);  // a whole IPv4 packet within the NIC's 1500 bytes
    CHECK(a.session.transport().link_mtu() == 1458);
    type(a, "link --json\r");
    const std::string json = last_json(a);
    CHECK(json.find(",\"udp\":{\"port\":7455,\"next_hop_known\":true,\"datagrams_sent\":") != std::string::npos);
    CHECK(json_number(json, "datagrams_sent") >= from_a.datagrams);  // every one seen on the wire, counted
    CHECK(json_number(json, "refused") == 0);
    CHECK(json_number(json, "arp_announcements_sent") >= 1);  // to the peer, its next hop, every second
    CHECK(schema_test::check_console_json(json) == "");

    rig.kill(a);
    REQUIRE(rig.run_until([&] { return b.session.took_over(); }, 5 * kSecond));
    CHECK(b.machine.out_.contains("pair: no answer from the primary"));
    REQUIRE(rig.run_until([&] { return b.guest_running; }, kSecond));
    // A new backup joins the new primary over UDP/IPv4 too (it has the dead machine's address).
    auto& c = rig.add(over_udp(SessionPairRig::config(Role::backup), 2, 3), 0, 3);
    REQUIRE(rig.run_until([&] { return SessionPairRig::is_protected(b, c); }, 20 * kSecond));
}

TEST_CASE("pair over UDP/IPv4: datagrams from another address or port, and ARP for another machine, change nothing") {
    SessionPairRig rig(72);
    auto& a = rig.add(over_udp(SessionPairRig::config(Role::primary), 2, 3), 0, 1);
    // The backup sends to 10.1.0.9 through the primary's address as its router: the primary
    // answers its ARP, then gets datagrams not addressed to it, and takes none.
    tandem::Config wrong = over_udp(SessionPairRig::config(Role::backup), 3, 9);
    wrong.has_link_gateway = true;
    const std::uint8_t gateway[4] = {10, 1, 0, 2};
    for (int i = 0; i < 4; ++i) wrong.link_gateway[i] = gateway[i];
    auto& b = rig.add(wrong, 1, 2);
    rig.run_until([] { return false; }, 3 * kSecond);
    CHECK_FALSE(SessionPairRig::is_protected(a, b));
    CHECK(a.session.primary()->phase() == tandem::engine::PrimaryReplicator::Phase::waiting);
    CHECK(a.machine.running);  // the guest runs on, unprotected
    const tandem::link::UdpEnvelope* envelope = a.session.udp_envelope();
    REQUIRE(envelope != nullptr);
    CHECK(envelope->stats().arp_replies_sent >= 1);
    CHECK(envelope->stats().ignored > 10);
    CHECK(envelope->stats().datagrams_received == 0);
    // A router's ICMP host unreachable (IPv4 protocol 1, checksums right) is ignored, not refused.
    std::uint8_t icmp[14 + 20 + 8 + 28]{};
    tandem::net::UdpIpv4Route route{{{2, 0, 0, 0, 0, 9}}, {{2, 0, 0, 0, 0, 1}}, 0x0a010001, 0x0a010002, 0, 0, 64};
    const std::uint8_t quoted[28]{};
    std::size_t size = tandem::net::build_udp_ipv4(icmp, route, 1, quoted);
    REQUIRE(size == sizeof icmp);
    icmp[14 + 9] = 1;  // protocol ICMP, the IPv4 header checksum made right again
    icmp[14 + 10] = icmp[14 + 11] = 0;
    std::uint16_t sum = tandem::net::internet_checksum(std::span<const std::uint8_t>(icmp + 14, 20));
    icmp[14 + 10] = static_cast<std::uint8_t>(sum >> 8), icmp[14 + 11] = static_cast<std::uint8_t>(sum);
    REQUIRE(tandem::net::parse_udp_ipv4(icmp).reject == tandem::net::UdpIpv4Reject::not_udp);
    const auto ignored = envelope->stats().ignored, refused = envelope->stats().refused;
    rig.link.inject(0, icmp);
    CHECK(envelope->stats().ignored == ignored + 1);
    CHECK(envelope->stats().refused == refused);
    type(a, "link\r");
    CHECK(a.machine.out_.contains("link: UDP/IPv4 port 7455: "));
    CHECK(a.machine.out_.contains(" received; the next hop's MAC known; "));  // learnt from the backup's request
    const tandem::link::UdpEnvelope* other = b.session.udp_envelope();
    REQUIRE(other != nullptr);
    CHECK(other->stats().datagrams_received == 0);  // the primary's hellos come from 10.1.0.2, not 10.1.0.9
}
