// The lockstep data paths (replication/lockstep/lockstep_primary.hpp, lockstep_backup.hpp): client
// input forwarded before the primary's guest gets it, the backup's guest fed in the primary's
// order, output released by match or under output commit, and the two paths joined through a
// fake link with two "guests" that answer alike, or not.
#include <doctest/doctest.h>

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "helpers.hpp"
#include "lockstep_frames.hpp"
#include "replication/engine/output_commit.hpp"
#include "replication/lockstep/lockstep_backup.hpp"
#include "replication/lockstep/lockstep_primary.hpp"

using namespace tandem;
using namespace tandem::lockstep;
using lockstep_test::tcp;
using Frame = std::vector<std::uint8_t>;

namespace {

constexpr std::uint64_t kMs = 1'000'000;

struct FakeClock final : link::Clock {
    std::uint64_t now_ns() override { return now; }
    std::uint64_t now = 1000 * kMs;
};

// One direction of the link: messages in order; refuses while full.
struct FakeLink final : ForwardLink {
    bool send_forward(std::span<const std::uint8_t> message) override {
        if (full) return false;
        sent.emplace_back(message.begin(), message.end());
        return true;
    }
    std::deque<Frame> sent;
    bool full = false;
};

struct FakeGuest final : GuestReceive {
    bool deliver(std::span<const std::uint8_t> frame) override {
        received.emplace_back(frame.begin(), frame.end());
        return true;
    }
    std::vector<Frame> received;
};

LockstepMessage decoded(const Frame& bytes) {
    auto m = decode_lockstep_message(bytes);
    REQUIRE(m.ok());
    return *m;
}

Frame message(LockstepMessageKind kind, std::uint64_t generation, std::uint64_t sequence, const Frame& frame) {
    Frame out(kLockstepMaxMessage);
    auto n = encode_lockstep_message({kind, generation, sequence, 0, frame}, out);
    REQUIRE(n.ok());
    out.resize(*n);
    return out;
}

bool has(const std::string& text, std::string_view what) { return text.find(what) != std::string::npos; }

Frame request(std::string_view text) { return tcp({.seq = 5000, .ack = 1000, .flags = 0x18, .payload = text, .from_client = true}); }
Frame reply(std::string_view text, std::uint32_t seq = 1000) { return tcp({.seq = seq, .flags = 0x18, .payload = text}); }

SyncPolicyConfig policy() {
    SyncPolicyConfig c;
    c.min_gap_ns = 0;
    c.degrade_at = 3;
    c.first_hold_ns = 500 * kMs;
    return c;
}

struct PrimaryRig {
    PrimaryRig()
        : comparator_storage(2 * 16 * OutputComparator::kSlotSize), queue_storage(LockstepPrimary::kQueueBytes),
          commit_storage(16 * engine::OutputCommitBuffer::kSlotSize), commit(commit_storage, nic),
          primary(comparator_storage, queue_storage, nic, commit, link, clock, policy(), 20 * kMs, out) {
        primary.checkpoint_captured(1, SyncReason::join);
        commit.release_through(1);
        primary.backup_synced(1);
        link.sent.clear();
    }
    void backup_says(std::uint64_t generation, std::uint64_t sequence, const Frame& frame) {
        primary.on_message(message(LockstepMessageKind::guest_output, generation, sequence, frame));
    }
    FakeClock clock;
    FakeLink link;
    lockstep_test::RecordingNic nic;
    test::StringWriter out;
    std::vector<std::uint8_t> comparator_storage, queue_storage, commit_storage;
    engine::OutputCommitBuffer commit;
    LockstepPrimary primary;
};

}  // namespace

TEST_CASE("lockstep primary: client input goes over the link first, numbered within its generation") {
    PrimaryRig r;
    r.primary.forward_input(request("GET /a"), 111);
    r.primary.forward_input(request("GET /b"), 222);
    REQUIRE(r.link.sent.size() == 2);
    auto first = decoded(r.link.sent[0]), second = decoded(r.link.sent[1]);
    CHECK(first.kind == LockstepMessageKind::client_input);
    CHECK(first.generation == 1);
    CHECK(first.sequence == 0);
    CHECK(second.sequence == 1);
    CHECK(second.guest_tsc == 222);
    CHECK(Frame(second.frame.begin(), second.frame.end()) == request("GET /b"));
    CHECK_FALSE(r.primary.poll());
    CHECK(r.primary.stats().inputs_forwarded == 2);
}

TEST_CASE("lockstep primary: input waits in order while the link is full; beyond the queue the guests differ") {
    PrimaryRig r;
    r.link.full = true;
    r.primary.forward_input(request("GET /a"), 1);
    r.primary.forward_input(request("GET /b"), 2);
    CHECK(r.link.sent.empty());
    CHECK(r.primary.queued() == 2);
    CHECK_FALSE(r.primary.poll());  // waiting is no difference
    r.link.full = false;
    CHECK_FALSE(r.primary.poll());  // the queue drains, in order
    REQUIRE(r.link.sent.size() == 2);
    CHECK(decoded(r.link.sent[0]).sequence == 0);
    CHECK(Frame(decoded(r.link.sent[1]).frame.begin(), decoded(r.link.sent[1]).frame.end()) == request("GET /b"));
    r.link.sent.clear();
    r.link.full = true;
    for (std::size_t i = 0; i < LockstepPrimary::kQueuedMessages; ++i) r.primary.forward_input(request("GET /c"), 3);
    CHECK(r.primary.stats().inputs_unforwarded == 0);
    r.primary.forward_input(request("GET /d"), 4);  // one too many
    CHECK(r.primary.stats().inputs_unforwarded == 1);
    CHECK(r.primary.poll() == SyncReason::known_difference);
    r.link.full = false;
    r.primary.checkpoint_captured(2, SyncReason::known_difference);
    CHECK_FALSE(r.primary.poll());
    // The new generation numbers its input from 0 again, after telling the backup where it starts.
    r.primary.forward_input(request("GET /e"), 5);
    REQUIRE(r.link.sent.size() == LockstepPrimary::kQueuedMessages + 2);
    auto start = decoded(r.link.sent[LockstepPrimary::kQueuedMessages]);
    CHECK(start.kind == LockstepMessageKind::generation_start);
    CHECK(start.generation == 2);
    auto next = decoded(r.link.sent.back());
    CHECK(next.generation == 2);
    CHECK(next.sequence == 0);
}

TEST_CASE("lockstep primary: matched output leaves at once; a mismatch's frames wait for the checkpoint's acknowledgement") {
    PrimaryRig r;
    CHECK(r.primary.transmit(reply("one")));
    CHECK(r.nic.sent.empty());
    r.backup_says(1, 0, reply("one"));
    REQUIRE(r.nic.sent.size() == 1);
    CHECK(r.nic.sent[0] == reply("one"));

    CHECK(r.primary.transmit(reply("two", 1003)));
    r.backup_says(1, 1, reply("TWO", 1003));
    CHECK(r.primary.poll() == SyncReason::mismatch);
    r.primary.checkpoint_captured(2, SyncReason::mismatch);
    CHECK(r.nic.sent.size() == 1);  // under output commit of epoch 2
    CHECK(r.commit.held() == 1);
    // The next generation's reply matches before the acknowledgement arrives: it queues behind.
    CHECK(r.primary.transmit(reply("three", 1006)));
    r.primary.backup_synced(2);
    r.backup_says(2, 0, reply("three", 1006));
    CHECK(r.nic.sent.size() == 1);
    CHECK(r.commit.release_through(2) == 2);
    REQUIRE(r.nic.sent.size() == 3);
    CHECK(r.nic.sent[1] == reply("two", 1003));
    CHECK(r.nic.sent[2] == reply("three", 1006));
    CHECK(r.primary.comparator().stats().released_committed == 1);
    CHECK(r.primary.comparator().stats().released_matched == 2);
}

TEST_CASE("lockstep primary: the wait bound starts when the backup runs the new generation") {
    PrimaryRig r;
    r.primary.checkpoint_captured(2, SyncReason::periodic);
    CHECK(r.primary.transmit(reply("during the checkpoint")));
    r.clock.now += 400 * kMs;  // (the periodic bound is a second)
    CHECK_FALSE(r.primary.poll());
    r.primary.backup_synced(1);  // an older epoch's acknowledgement changes nothing
    r.clock.now += 400 * kMs;
    CHECK_FALSE(r.primary.poll());
    r.primary.backup_synced(2);
    r.clock.now += 21 * kMs;
    CHECK(r.primary.poll() == SyncReason::timeout);
}

TEST_CASE("lockstep primary: the backup's messages are checked: undecodable, wrong kind, a gap") {
    PrimaryRig r;
    Frame junk = {1, 2, 3};
    r.primary.on_message(junk);
    r.primary.on_message(message(LockstepMessageKind::client_input, 1, 0, reply("x")));
    CHECK(r.primary.stats().backup_undecodable == 1);
    CHECK(r.primary.stats().backup_unexpected == 1);
    CHECK_FALSE(r.primary.poll());
    r.backup_says(1, 0, reply("a"));
    r.backup_says(1, 2, reply("c"));  // 1 never came
    CHECK(r.primary.stats().backup_out_of_order == 1);
    CHECK(r.primary.poll() == SyncReason::known_difference);
}

TEST_CASE("lockstep primary: repeated divergence degrades to release by checkpoint, then compares again") {
    PrimaryRig r;
    std::uint64_t epoch = 1;
    for (int i = 0; i < 3; ++i) {
        r.clock.now += 10 * kMs;
        CHECK(r.primary.transmit(reply("x", 2000 + 10 * static_cast<std::uint32_t>(i))));
        r.backup_says(epoch, 0, reply("y", 2000 + 10 * static_cast<std::uint32_t>(i)));
        REQUIRE(r.primary.poll() == SyncReason::mismatch);
        r.primary.checkpoint_captured(++epoch, SyncReason::mismatch);
        r.commit.release_through(epoch);
        r.primary.backup_synced(epoch);
    }
    CHECK_FALSE(r.primary.comparing());
    CHECK(has(r.out.str(), "lockstep: 3 checkpoints for divergence within a second: releasing output by checkpoint"));
    // Degraded: output waits for the next epoch's acknowledgement, uncompared.
    std::size_t before = r.nic.sent.size();
    CHECK(r.primary.transmit(reply("degraded", 3000)));
    r.backup_says(epoch, 0, reply("anything", 3000));
    CHECK(r.commit.held() == 1);
    r.clock.now += 50 * kMs;
    CHECK(r.primary.poll() == SyncReason::degraded_epoch);
    r.primary.checkpoint_captured(++epoch, SyncReason::degraded_epoch);
    r.commit.release_through(epoch);
    CHECK(r.nic.sent.size() == before + 1);
    // The hold ends: the next checkpoint at once, and its generation is compared.
    r.clock.now += 500 * kMs;
    CHECK(r.primary.poll() == SyncReason::degraded_epoch);
    CHECK(has(r.out.str(), "lockstep: comparing output again"));
    r.primary.checkpoint_captured(++epoch, SyncReason::degraded_epoch);
    r.primary.backup_synced(epoch);
    CHECK(r.primary.comparing());
    CHECK(r.primary.transmit(reply("again", 4000)));
    r.backup_says(epoch, 0, reply("again", 4000));
    CHECK(r.nic.sent.back() == reply("again", 4000));
}

TEST_CASE("lockstep primary: before a join and after losing the backup, output passes and input stays here") {
    FakeClock clock;
    FakeLink link;
    lockstep_test::RecordingNic nic;
    test::StringWriter out;
    std::vector<std::uint8_t> comparator_storage(2 * 16 * OutputComparator::kSlotSize);
    std::vector<std::uint8_t> commit_storage(16 * engine::OutputCommitBuffer::kSlotSize);
    std::vector<std::uint8_t> queue_storage(LockstepPrimary::kQueueBytes);
    engine::OutputCommitBuffer commit(commit_storage, nic);
    commit.set_holding(false);  // no backup: the replicator passes output through
    auto primary = std::make_unique<LockstepPrimary>(comparator_storage, queue_storage, nic, commit, link, clock, policy(),
                                                     20 * kMs, out);
    primary->forward_input(request("early"), 1);
    CHECK(link.sent.empty());
    CHECK(primary->transmit(reply("unprotected")));
    CHECK(nic.sent.size() == 1);
    CHECK_FALSE(primary->poll());
    commit.set_holding(true);
    primary->checkpoint_captured(5, SyncReason::join);
    CHECK(primary->joined());
    CHECK(primary->transmit(reply("compared", 1011)));
    CHECK(nic.sent.size() == 1);
    commit.set_holding(false);  // the replicator lost the backup, then told the path
    primary->backup_lost();
    REQUIRE(nic.sent.size() == 2);
    CHECK(nic.sent[1] == reply("compared", 1011));
    CHECK_FALSE(primary->joined());
    CHECK(primary->transmit(reply("alone again", 1019)));
    CHECK(nic.sent.size() == 3);
    clock.now += 10'000 * kMs;
    CHECK_FALSE(primary->poll());
    primary->checkpoint_captured(9, SyncReason::join);  // a new backup joins
    CHECK(primary->comparing());
}

TEST_CASE("lockstep backup: input waits for its generation's checkpoint, then reaches the guest in order") {
    FakeLink link;
    FakeGuest guest;
    std::vector<std::uint8_t> storage(LockstepBackup::kStorageBytes);
    LockstepBackup backup(storage, guest, link);
    backup.on_message(message(LockstepMessageKind::generation_start, 4, 0, {}));
    backup.on_message(message(LockstepMessageKind::client_input, 4, 0, request("first")));
    backup.on_message(message(LockstepMessageKind::client_input, 4, 1, request("second")));
    CHECK(guest.received.empty());
    CHECK(backup.pending_start() == 4u);
    backup.generation_started(4);
    CHECK_FALSE(backup.pending_start());
    REQUIRE(guest.received.size() == 2);
    CHECK(guest.received[0] == request("first"));
    backup.on_message(message(LockstepMessageKind::client_input, 4, 2, request("third")));
    CHECK(guest.received.size() == 3);
    // A later checkpoint: its input waits; what remains of an older generation is stale.
    backup.on_message(message(LockstepMessageKind::generation_start, 6, 0, {}));
    backup.on_message(message(LockstepMessageKind::client_input, 6, 0, request("sixth")));
    backup.on_message(message(LockstepMessageKind::client_input, 4, 3, request("late")));
    CHECK(backup.stats().inputs_stale == 1);
    CHECK(guest.received.size() == 3);
    CHECK(backup.pending_start() == 6u);
    backup.generation_started(6);
    CHECK(guest.received.back() == request("sixth"));
    // A gap in the primary's numbering is counted (the comparator will see the guests differ).
    backup.on_message(message(LockstepMessageKind::client_input, 6, 2, request("gap")));
    CHECK(backup.stats().inputs_out_of_order == 1);
    CHECK(guest.received.size() == 4);
}

TEST_CASE("lockstep backup: the guest's output goes to the primary numbered, waits while the link is full, and to the client after a takeover") {
    FakeLink link;
    FakeGuest guest;
    std::vector<std::uint8_t> storage(LockstepBackup::kStorageBytes);
    LockstepBackup backup(storage, guest, link);
    backup.generation_started(3);
    CHECK(backup.transmit(reply("a")));
    link.full = true;
    CHECK_FALSE(backup.transmit(reply("b")));  // the guest's queue waits
    link.full = false;
    CHECK(backup.transmit(reply("b")));
    REQUIRE(link.sent.size() == 2);
    CHECK(decoded(link.sent[1]).kind == LockstepMessageKind::guest_output);
    CHECK(decoded(link.sent[1]).generation == 3);
    CHECK(decoded(link.sent[1]).sequence == 1);
    lockstep_test::RecordingNic client;
    backup.promote(client);
    CHECK(backup.transmit(reply("c")));
    CHECK(link.sent.size() == 2);
    REQUIRE(client.sent.size() == 1);
    CHECK(client.sent[0] == reply("c"));
    CHECK(backup.promoted());
    Frame after = request("after");
    backup.rewrite_incoming(after);  // no connection to rewrite: unchanged
    CHECK(after == request("after"));
}

TEST_CASE("lockstep paths: two guests that answer alike release by match; one that differs costs one checkpoint") {
    auto rig = std::make_unique<PrimaryRig>();  // both sides together exceed a test's frame
    PrimaryRig& r = *rig;
    FakeLink backup_link;
    FakeGuest backup_guest;
    std::vector<std::uint8_t> storage(LockstepBackup::kStorageBytes);
    auto backup_path = std::make_unique<LockstepBackup>(storage, backup_guest, backup_link);
    LockstepBackup& backup = *backup_path;
    backup.generation_started(1);
    // A "guest": answers request n with "reply n" (the backup's says "REPLY" from n == 7 on).
    std::uint32_t primary_seq = 1000, backup_seq = 1000;
    auto answer = [](std::size_t n, bool backup_side, std::uint32_t& seq) {
        std::string text = (backup_side && n == 7 ? "REPLY " : "reply ") + std::to_string(n);
        Frame f = reply(text, seq);
        seq += static_cast<std::uint32_t>(text.size());
        return f;
    };
    std::uint64_t epoch = 1;
    for (std::size_t n = 0; n < 20; ++n) {
        r.primary.forward_input(request("GET " + std::to_string(n)), n);
        while (!r.link.sent.empty()) {  // the link to the backup
            backup.on_message(r.link.sent.front());
            r.link.sent.pop_front();
        }
        if (auto start = backup.pending_start()) backup.generation_started(*start);
        REQUIRE(r.primary.transmit(answer(n, false, primary_seq)));
        REQUIRE(backup.transmit(answer(n, true, backup_seq)));
        while (!backup_link.sent.empty()) {  // and back
            r.primary.on_message(backup_link.sent.front());
            backup_link.sent.pop_front();
        }
        r.clock.now += kMs;
        if (auto reason = r.primary.poll()) {
            CHECK(*reason == SyncReason::mismatch);
            r.primary.checkpoint_captured(++epoch, *reason);
            r.commit.release_through(epoch);  // the backup acknowledged it
            r.primary.backup_synced(epoch);
            backup_seq = primary_seq;  // the backup's guest is the primary's again
        }
    }
    REQUIRE(r.nic.sent.size() == 20);  // every reply reached the client, the primary's bytes
    std::uint32_t seq7 = 1000 + 7 * 7;  // after seven "reply n"
    CHECK(r.nic.sent[7] == answer(7, false, seq7));
    CHECK(r.primary.policy().count(SyncReason::mismatch) == 1);
    CHECK(r.primary.comparator().stats().released_matched == 19);
    CHECK(r.primary.comparator().stats().released_committed == 1);
    CHECK(backup.stats().inputs_delivered == 20);
}
