// An attacker on the replication link without the key (issue 14, defect 1), against the whole
// protected pair on the host (pair_rig.hpp). Everything a frame needs that is not the key is
// public: the MAC addresses, the session ids (in every header), the handshake parameters (in the
// cleartext HELLOs). Nothing the attacker sends may change session, peer, role, protection or
// refusal state: no backup lost, no probing that does not come back, no takeover, no refusal.
#include <doctest/doctest.h>

#include "pair_rig.hpp"
#include "replication/link/frame_seal.hpp"

using namespace pair_test;
using tandem::DirtyTracking;
using tandem::engine::CaptureMode;
using Phase = tandem::engine::PrimaryReplicator::Phase;
using BState = tandem::engine::BackupReplicator::State;
namespace tl = tandem::link;

namespace {

constexpr std::uint64_t kSecond = 1'000'000'000;
constexpr std::uint64_t kPages = 96;
const tandem::MacAddress kPrimaryMac = test::pair_config(7, 0).local_mac;
const tandem::MacAddress kBackupMac = test::pair_config(7, 1).local_mac;
const tandem::MacAddress kAttackerMac{{0x02, 0xba, 0xd0, 0, 0, 0x66}};

// A handshake frame with the public checksum: all one can make without the key.
std::vector<std::uint8_t> forge(tl::FrameType type, std::uint64_t session, std::span<const std::uint8_t> payload,
                                const tandem::MacAddress& src, const tandem::MacAddress& dst,
                                std::uint8_t version = tl::kProtocolVersion) {
    std::vector<std::uint8_t> out(tl::kMaxFrameSize);
    tl::FrameHeader h;
    h.type = type;
    h.session = session;
    h.seq = 0x777;
    h.version = version;
    auto size = tl::seal_frame(out, tl::EthernetHeader{dst, src, tl::kEtherType}, h, payload, nullptr);
    REQUIRE(size.ok());
    out.resize(*size);
    return out;
}

std::vector<std::uint8_t> forged_hello(tandem::Role role, std::uint64_t session, const tandem::MacAddress& src,
                                       const tandem::MacAddress& dst, std::uint64_t key_id,
                                       std::uint8_t version = tl::kProtocolVersion) {
    tl::HandshakeParams p;
    p.role = role;
    p.guest_memory = kPages * kPage;
    p.key_id = key_id;  // copied from the real peers' HELLOs
    std::uint8_t payload[tl::kHelloPayloadSize];
    tl::encode_hello(p, payload);
    return forge(tl::FrameType::hello, session, payload, src, dst, version);
}

std::vector<std::uint8_t> forged_refusal(std::uint64_t echo_session, const tandem::MacAddress& src,
                                         const tandem::MacAddress& dst) {
    tl::HelloAck ack{tl::HandshakeField::role, echo_session, 1, 1};
    std::uint8_t payload[tl::kHelloAckPayloadSize];
    tl::encode_hello_ack(ack, payload);
    return forge(tl::FrameType::hello_ack, 0x5eed, payload, src, dst);
}

// The session id a side announces, as anyone reads it from its frames on the wire.
std::uint64_t session_on_wire(PairRig& rig, int side) {
    REQUIRE_FALSE(rig.link.captured(side).empty());
    tl::FrameDecode d = tl::decode_frame(rig.link.captured(side).back());
    REQUIRE(d.ok());
    return d.frame.header.session;
}

}  // namespace

TEST_CASE("forgery: HELLOs with new sessions and other-version frames during protection change nothing") {
    PairRig rig(kPages, 71, DirtyTracking::pml, CaptureMode::cow);
    rig.link.set_capture(0, true);
    rig.link.set_capture(1, true);
    rig.start_primary();
    rig.start_backup();
    REQUIRE(rig.run_until([&] { return rig.protected_pair(); }, 10 * kSecond));
    const std::uint64_t key_id = test::secret_for(0x40).key_id;
    for (std::uint64_t round = 0; round < 20; ++round) {
        // "The backup restarted" (a HELLO with a new session from its MAC), to the primary; "the
        // primary restarted", to the backup; a newer protocol version from anywhere, broadcast.
        rig.link.inject(0, forged_hello(tandem::Role::backup, 0x1000 + round, kBackupMac, kPrimaryMac, key_id));
        rig.link.inject(1, forged_hello(tandem::Role::primary, 0x2000 + round, kPrimaryMac, kBackupMac, key_id));
        for (int side : {0, 1}) {
            rig.link.inject(side, forged_hello(tandem::Role::backup, 0x3000 + round, kAttackerMac, tl::kBroadcastMac,
                                               key_id, tl::kProtocolVersion + 1));
        }
        rig.run_for(50'000'000);
    }
    CHECK(rig.primary->phase() == Phase::protecting);
    CHECK(rig.primary->stats().backups_lost == 0);
    CHECK(rig.backup->replicator->state() == BState::following);
    CHECK(rig.backup->replicator->stats().probes_sent == 0);
    CHECK_FALSE(rig.took_over);
    CHECK(rig.primary_transport->stats().peer_restarts == 0);
    CHECK(rig.backup->transport->stats().peer_restarts == 0);
    CHECK(rig.primary_transport->stats().rejected_bad_tag >= 40);  // every forgery refused and counted
    CHECK(rig.backup->transport->stats().rejected_bad_tag >= 40);
    CHECK_FALSE(rig.primary_out.contains("backup lost"));
    CHECK_FALSE(rig.backup_out.contains("asking for it on the client network"));
    rig.quiesce_and_compare();
}

TEST_CASE("forgery: a bogus HELLO and a forged refusal while connecting neither lock the backup out nor refuse it") {
    PairRig rig(kPages, 72, DirtyTracking::pml, CaptureMode::cow);
    rig.link.set_capture(0, true);
    rig.link.set_capture(1, true);
    rig.start_primary();
    rig.run_for(100'000'000);
    const std::uint64_t primary_session = session_on_wire(rig, 0);
    const std::uint64_t key_id = test::secret_for(0x40).key_id;
    // First a would-be backup from the attacker's MAC, then a refusal "from the backup" echoing
    // the primary's session: the primary must neither latch that MAC nor take the refusal.
    for (std::uint64_t i = 0; i < 5; ++i) {
        rig.link.inject(0, forged_hello(tandem::Role::backup, 0x4000 + i, kAttackerMac, kPrimaryMac, key_id));
        rig.link.inject(0, forged_refusal(primary_session, kBackupMac, kPrimaryMac));
        rig.run_for(10'000'000);
    }
    CHECK(rig.primary_transport->state() == tl::Transport::State::connecting);
    CHECK(rig.primary_transport->refusal() == nullptr);
    rig.start_backup();
    // The backup, too, gets a forged refusal as soon as its session is on the wire.
    rig.run_for(1'000'000);
    rig.link.inject(1, forged_refusal(session_on_wire(rig, 1), kPrimaryMac, kBackupMac));
    REQUIRE(rig.run_until([&] { return rig.protected_pair(); }, 10 * kSecond));
    CHECK(rig.backup->transport->refusal() == nullptr);
    CHECK(rig.primary_out.contains("pair: link not connected (the peer's reason): role conflict"));  // observed, said
    rig.quiesce_and_compare();
}

TEST_CASE("forgery: a backup probing after a stall follows again when the primary's traffic returns") {
    PairRig rig(kPages, 73, DirtyTracking::pml, CaptureMode::cow);
    rig.start_primary();
    rig.start_backup();
    REQUIRE(rig.run_until([&] { return rig.protected_pair(); }, 10 * kSecond));
    // The primary's direction stalls past the silence timeout (100 ms in the rig), and meanwhile
    // the attacker sends "the primary restarted"; the stall ends within the probe window (50 ms).
    rig.link.set_filter(0, [](std::span<const std::uint8_t>) { return false; });
    REQUIRE(rig.run_until([&] { return rig.backup->replicator->state() == BState::probing; }, kSecond));
    rig.link.inject(1, forged_hello(tandem::Role::primary, 0x6000, kPrimaryMac, kBackupMac, test::secret_for(0x40).key_id));
    rig.link.set_filter(0, [](std::span<const std::uint8_t>) { return true; });
    REQUIRE(rig.run_until([&] { return rig.backup->replicator->state() == BState::following; }, kSecond));
    CHECK(rig.backup_out.contains("pair: the primary is heard on the link again; following it"));
    rig.run_for(kSecond);
    CHECK_FALSE(rig.took_over);
    CHECK(rig.backup->replicator->stats().stale_rejoins == 0);
    CHECK(rig.primary->phase() == Phase::protecting);
    rig.quiesce_and_compare();
}
