// The protected pair through its production session objects (replication/sessions/pair_*.cpp) on
// the host (session_rig.hpp): a backup joins, the primary dies, the backup takes over — restoring
// the vCPU and the device models strictly and announcing the guest — and a new backup joins the
// machine that took over. What the backup restored is judged against what the primary's guest
// was at that epoch, recorded by the rig outside tandem.
#include <doctest/doctest.h>

#include <regex>

#include "session_rig.hpp"

using namespace session_test;
using tandem::Role;

namespace {

// What the primary's guest was at each capture (epoch number = index), recorded by the rig.
struct Captured {
    std::vector<std::uint64_t> tsc, memory_digest;
    std::vector<std::uint8_t> uart_scratch;
};

std::uint64_t digest(const std::vector<std::uint8_t>& bytes) {
    std::uint64_t h = 0xcbf29ce484222325ull;
    for (std::uint8_t b : bytes) h = (h ^ b) * 0x100000001b3ull;
    return h;
}

// Wraps the primary machine's capture to record the guest as it was at each epoch boundary.
void record_captures(SessionPairRig::Node& primary, Captured& out) {
    primary.machine.on_capture = [&primary, &out] {
        out.tsc.push_back(primary.machine.guest_tsc);
        out.memory_digest.push_back(digest(primary.machine.snapshot()));
        out.uart_scratch.push_back(primary.machine.uart_scratch());
    };
}

bool is_garp_for_guest(const std::vector<std::uint8_t>& f) {
    // Ethernet type ARP, opcode request, sender IP 10.0.2.15 (RFC 5227 announcement).
    return f.size() >= 42 && f[12] == 0x08 && f[13] == 0x06 && f[21] == 1 && f[28] == 10 && f[29] == 0 && f[30] == 2 &&
           f[31] == 15;
}

}  // namespace

TEST_CASE("pair sessions: the backup takes over through the production takeover, then a new backup joins it") {
    SessionPairRig rig(21);
    auto& a = rig.add(SessionPairRig::config(Role::primary), 0, 1);
    Captured captured;
    record_captures(a, captured);
    auto& b = rig.add(SessionPairRig::config(Role::backup), 1, 2);
    REQUIRE(rig.run_until([&] { return SessionPairRig::is_protected(a, b); }, 20 * kSecond));
    rig.run_until([] { return false; }, kSecond / 2);  // protected epochs go by
    CHECK(a.machine.out_.contains("pair: PROTECTED: the backup holds epoch"));
    CHECK(b.machine.out_.contains("pair: PROTECTED: epoch"));

    rig.kill(a);  // SIGKILL: silent on the link and on the client network
    REQUIRE(rig.run_until([&] { return b.session.took_over(); }, 5 * kSecond));
    CHECK(b.machine.out_.contains("pair: no answer from the primary"));
    // The committed epoch's vCPU, devices and memory, as the primary's guest was at that capture.
    auto said = b.machine.out_.text_.rfind("taking over from epoch ");
    REQUIRE(said != std::string::npos);
    std::uint64_t epoch = std::stoull(b.machine.out_.text_.substr(said + 23));
    REQUIRE(epoch < captured.tsc.size());
    CHECK(b.machine.cpu_restores == 1);
    CHECK(b.machine.guest_tsc == captured.tsc[epoch]);
    CHECK(b.machine.uart_scratch() == captured.uart_scratch[epoch]);
    CHECK(digest(b.machine.snapshot()) == captured.memory_digest[epoch]);
    CHECK(b.machine.out_.contains("pair: the guest resumes here from epoch " + std::to_string(epoch)));
    // The failover's stages, from the primary's last frame: the silence timeout (failover_ms=100)
    // noticed within the rig's polling, then the probe window (50 ms), then the restore.
    std::smatch stages;
    REQUIRE(std::regex_search(b.machine.out_.text_, stages,
                              std::regex("pair: takeover stages from the primary's last frame on the link: silence "
                                         "noticed at (\\d+) ms, probe window over at (\\d+) ms, guest restored and "
                                         "announced at (\\d+) ms \\(in \\d+ us\\)")));
    const int noticed = std::stoi(stages[1]), decided = std::stoi(stages[2]), restored = std::stoi(stages[3]);
    CHECK(noticed >= 100);
    CHECK(noticed <= 110);
    CHECK(decided - noticed >= 50);
    CHECK(decided - noticed <= 60);
    CHECK(restored >= decided);
    // Announced on the client network: three gratuitous ARPs for the guest's address.
    unsigned garps = 0;
    for (const auto& f : b.machine.client().sent) garps += is_garp_for_guest(f) ? 1 : 0;
    CHECK(garps == 3);

    // The machine that took over runs the guest as a primary; a new backup joins it.
    REQUIRE(rig.run_until([&] { return b.guest_running; }, kSecond));
    CHECK(b.session.primary() != nullptr);
    auto& c = rig.add(SessionPairRig::config(Role::backup), 0, 3);
    REQUIRE(rig.run_until([&] { return SessionPairRig::is_protected(b, c); }, 20 * kSecond));
    CHECK(b.machine.out_.contains("pair: now the primary"));
    CHECK(b.machine.running);  // nothing stopped its guest
}

TEST_CASE("pair sessions: a takeover onto a machine with other device models is refused with the reason") {
    SessionPairRig rig(22);
    // The primary's guest has a network card (UART and virtio-net are checkpointed); this
    // backup was configured without one: its machine has only the UART.
    auto& a = rig.add(SessionPairRig::config(Role::primary, true), 0, 1);
    auto& b = rig.add(SessionPairRig::config(Role::backup, false), 1, 2);
    REQUIRE(rig.run_until([&] { return SessionPairRig::is_protected(a, b); }, 20 * kSecond));
    rig.kill(a);
    REQUIRE(rig.run_until([&] { return b.finished; }, 5 * kSecond));
    CHECK(b.machine.out_.contains("tandem: cannot start the guest: the takeover: devices: the saved state is of a "
                                  "different number of models than this machine has; saved (0x2)"));
    CHECK_FALSE(b.session.took_over());
    CHECK_FALSE(b.guest_running);
    CHECK(b.machine.cpu_restores == 0);  // refused before anything changed
    CHECK(b.session.primary() == nullptr);
}

TEST_CASE("pair sessions: with the link cut, the primary's hypervisor answers the probe and the backup stays") {
    SessionPairRig rig(23);
    auto& a = rig.add(SessionPairRig::config(Role::primary), 0, 1);
    auto& b = rig.add(SessionPairRig::config(Role::backup), 1, 2);
    REQUIRE(rig.run_until([&] { return SessionPairRig::is_protected(a, b); }, 20 * kSecond));
    rig.link.set_partitioned(true);
    REQUIRE(rig.run_until([&] { return b.machine.out_.contains("split-brain guard"); }, 5 * kSecond));
    CHECK(a.machine.out_.contains("pair: answered a backup's probe on the client network"));
    CHECK_FALSE(b.session.took_over());
    CHECK(b.machine.cpu_restores == 0);
    CHECK(a.machine.running);
}

// The shell's `epoch` (issue 16): shown on both machines, set on the primary, where epochs then
// follow the new length (counted by the rig's record of captures, outside tandem); the backup
// and bad lengths refuse with the reason.
TEST_CASE("pair sessions: `epoch` sets the primary's epoch length; the backup and bad lengths refuse") {
    SessionPairRig rig(5);
    auto& a = rig.add(SessionPairRig::config(Role::primary), 0, 1);
    Captured captured;
    record_captures(a, captured);
    auto& b = rig.add(SessionPairRig::config(Role::backup), 1, 2);
    REQUIRE(rig.run_until([&] { return SessionPairRig::is_protected(a, b); }, 20 * kSecond));
    type(a, "epoch\r");
    CHECK(a.machine.out_.contains("epoch: 20 ms\n"));
    type(b, "epoch 5\r");
    CHECK(b.machine.out_.contains("epoch: this machine is the backup: the primary sets the epoch\n"));
    for (const char* bad : {"epoch 0\r", "epoch 10001\r", "epoch 5ms\r", "epoch -3\r"}) type(a, bad);
    CHECK(a.machine.out_.contains("epoch: the length is a whole number of milliseconds from 1 to 10000 (not '5ms')\n"));
    CHECK(a.machine.out_.contains("(not '10001')\n"));

    rig.run_until([] { return false; }, kSecond / 2);
    std::size_t before = captured.tsc.size();
    rig.run_until([] { return false; }, kSecond);
    std::size_t at_20_ms = captured.tsc.size() - before;
    type(a, "epoch 100\r");
    CHECK(a.machine.out_.contains("epoch: 100 ms from the next epoch boundary on (was 20 ms)\n"));
    rig.run_until([] { return false; }, kSecond / 5);
    before = captured.tsc.size();
    rig.run_until([] { return false; }, kSecond);
    std::size_t at_100_ms = captured.tsc.size() - before;
    CHECK(at_20_ms >= 40);  // about 50 a second
    CHECK(at_100_ms >= 8);  // about 10 a second
    CHECK(at_100_ms <= 11);
    CHECK(SessionPairRig::is_protected(a, b));
}
