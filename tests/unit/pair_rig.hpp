// A protected pair on the host: the primary's replicator (real checkpoint engine, stream queue,
// output-commit buffer, transport) and the backup's replicator (real backup image, decoder,
// transport) over a SimLink, with fakes only at the hardware edges: the guest's memory and EPT
// (ckpt_fake_ept.hpp), its vCPU and device state, the client network (a recording wire) and the
// split-brain probe (the test decides whether the primary answers). The clock is simulated; the
// primary ticks every millisecond like the machine's preemption timer, the backup polls at every
// step like its loop.
#pragma once

#include <doctest/doctest.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ckpt_fake_ept.hpp"
#include "ckpt_memory.hpp"
#include "link_pair.hpp"
#include "replication/engine/backup_replicator.hpp"
#include "replication/engine/primary_replicator.hpp"
#include "replication/link/nic_link.hpp"

namespace pair_test {

using ckpt::Bytes;
using ckpt::kPage;
using ckpt::Rng;

inline std::uint64_t g_random_state = 1;
inline std::uint64_t test_random() { return test::mix64(++g_random_state) | 1; }

struct StringWriter final : tandem::Writer {
    void write(std::string_view text) override { text_.append(text); }
    bool contains(std::string_view s) const { return text_.find(s) != std::string::npos; }
    std::string text_;
};

// The production switch between the transport and whichever side a machine plays.
using SinkSwitch = tandem::link::MessageSwitch;

class SimTicks final : public tandem::engine::TickClock {
public:
    explicit SimTicks(test::SimClock& c) : c_(c) {}
    std::uint64_t now() const override { return c_.now; }  // one tick per nanosecond

private:
    test::SimClock& c_;
};

class Device final : public tandem::StatefulDevice {
public:
    std::uint16_t state_id() const override { return 9; }
    std::uint16_t state_version() const override { return 1; }
    const char* state_name() const override { return "rig-device"; }
    void save_state(tandem::ByteWriter& out) const override { out.put<std::uint64_t>(value); }
    tandem::Status restore_state(std::uint16_t, std::span<const std::uint8_t> in) override {
        if (in.size() != 8) return tandem::Error::of("rig-device: bad size");
        value = 0;
        for (int i = 7; i >= 0; --i) value = value << 8 | in[static_cast<std::size_t>(i)];
        return tandem::success();
    }
    std::uint64_t value = 0;
};

class State final : public tandem::engine::StateSource {
public:
    tandem::Status capture_cpu(tandem::checkpoint::CpuState& out) override {
        out = tandem::checkpoint::CpuState{};
        captured_tsc = tsc;
        return out.set(tandem::checkpoint::cpu_state_keys::guest_tsc, tsc);
    }
    std::size_t device_count() const override { return 1; }
    tandem::StatefulDevice& device(std::size_t) override { return device_; }
    std::uint64_t tsc = 0;
    std::uint64_t captured_tsc = 0;  // at the last capture
    Device device_;
};

// The client network: what left the primary's client NIC, and whether the backup held the state
// that produced each frame when it left. Frames carry (produced in epoch, protected, sequence).
struct Wire final : tandem::virtio::NetBackend {
    struct Sent {
        std::uint64_t sequence, produced_epoch;
        bool produced_protected;
        bool backup_held;  // the backup's committed epoch covered it when it left
        std::uint64_t at_ns;
    };
    bool transmit(std::span<const std::uint8_t> frame) override {
        if (refuse) return false;
        REQUIRE(frame.size() == 64);
        Sent s{};
        for (int i = 7; i >= 0; --i) s.sequence = s.sequence << 8 | frame[static_cast<std::size_t>(i)];
        for (int i = 7; i >= 0; --i) s.produced_epoch = s.produced_epoch << 8 | frame[8 + static_cast<std::size_t>(i)];
        s.produced_protected = frame[16] != 0;
        s.backup_held = committed != nullptr && committed->has_committed() && committed->committed_epoch() >= s.produced_epoch;
        s.at_ns = clock->now;
        sent.push_back(s);
        return true;
    }
    bool refuse = false;
    const tandem::checkpoint::BackupImage* committed = nullptr;
    test::SimClock* clock = nullptr;
    std::vector<Sent> sent;
};

class Prober final : public tandem::engine::ProbeSender {
public:
    void send_probe(const tandem::link::Challenge& c) override {
        ++probes;
        last = c;
        if (primary_answers && replicator != nullptr) {
            tandem::link::ProbeFrame reply{};
            reply.kind = tandem::link::ProbeKind::reply;
            reply.challenge = c;
            replicator->on_probe_reply(reply);
        }
    }
    bool primary_answers = false;
    unsigned probes = 0;
    tandem::link::Challenge last{};
    tandem::engine::BackupReplicator* replicator = nullptr;
};

struct BackupSide {
    BackupSide(std::uint64_t pages, test::SimLink& link, test::SimClock& clock, StringWriter& out)
        : rig(pages), transport(std::make_unique<tandem::link::Transport>(link.port(1), clock, sink)) {
        replicator = std::make_unique<tandem::engine::BackupReplicator>(*rig.backup, *rig.decoder, *transport, clock, prober, out);
        sink.target = replicator.get();
        prober.replicator = replicator.get();
        link.attach(1, transport.get());
    }
    // Applying an epoch costs the backup apply_cost_ns of its time per page (an emulator's slow
    // copy); meanwhile the rest of the world goes on (busy_for), and the backup's keepalive runs
    // every kKeepaliveEvery pages as in the image.
    class SlowApply final : public tandem::engine::Keepalive {
    public:
        explicit SlowApply(BackupSide& side) : side_(side) {}
        void keepalive() override {
            if (side_.apply_cost_ns != 0 && side_.busy_for) side_.busy_for(side_.apply_cost_ns * tandem::engine::kKeepaliveEvery);
            side_.replicator->keepalive();
        }

    private:
        BackupSide& side_;
    };
    std::uint64_t apply_cost_ns = 0;
    std::function<void(std::uint64_t)> busy_for;
    ckpt::BackupRig rig;
    SinkSwitch sink;
    Prober prober;
    std::unique_ptr<tandem::link::Transport> transport;
    std::unique_ptr<tandem::engine::BackupReplicator> replicator;
    SlowApply slow_apply{*this};
    bool alive = true;
};

// The encoder's sink in front of the stream queue: each record written costs the primary
// `cost_ns` of simulated time, as encoding does on the machine (the rig's work is otherwise free).
class CostlySink final : public tandem::checkpoint::RecordSink {
public:
    CostlySink(tandem::checkpoint::RecordSink& next, test::SimClock& clock) : next_(next), clock_(clock) {}
    tandem::Status write(std::span<const std::uint8_t> bytes) override {
        clock_.now += cost_ns;
        return next_.write(bytes);
    }
    std::uint64_t cost_ns = 0;

private:
    tandem::checkpoint::RecordSink& next_;
    test::SimClock& clock_;
};

struct PairRig {
    static constexpr std::uint64_t kTickNs = 1'000'000;
    static constexpr std::uint64_t kEpochNs = 20'000'000;

    PairRig(std::uint64_t pages, std::uint64_t seed, tandem::DirtyTracking method, tandem::engine::CaptureMode mode)
        : link(clock, seed),
          ticks(clock),
          rng(seed),
          guest(pages),
          reference(pages),
          staging(pages),
          slots(pages, 0x5a5a5a5a),
          words(2 * tandem::dirty::DirtyBitmap::words_for(pages)),
          sending(std::span(words).first(words.size() / 2), pages),
          current(std::span(words).subspan(words.size() / 2), pages),
          ept(pages),
          log(method == tandem::DirtyTracking::pml ? &pml : nullptr),
          tracker(method, ept, log, current),
          queue_bytes(256 * 1024),
          queue(queue_bytes),
          costly_queue(queue, clock),
          encoder(std::make_unique<tandem::checkpoint::EpochEncoder>(costly_queue)),
          output_bytes(64 * tandem::engine::OutputCommitBuffer::kSlotSize),
          output(output_bytes, wire) {
        engine = std::make_unique<tandem::engine::CheckpointEngine>(
            tandem::engine::EngineMemory{guest.memory(), reference.memory(), staging.memory(), slots, sending}, tracker, ept,
            state, *encoder, ticks, mode, true);
        primary_transport = std::make_unique<tandem::link::Transport>(link.port(0), clock, primary_sink);
        primary = std::make_unique<tandem::engine::PrimaryReplicator>(*engine, queue, output, *primary_transport, ticks,
                                                                      primary_out);
        primary_sink.target = primary.get();
        link.attach(0, primary_transport.get());
        wire.clock = &clock;
        for (std::uint64_t p = 0; p < pages; ++p) ckpt::fill_random(guest.page(p), rng);
    }

    tandem::link::TransportConfig config(int side) const {
        tandem::link::TransportConfig c = test::pair_config(7, side);
        c.has_peer_mac = false;  // learnt from HELLO: a restarted backup is a new peer
        c.guest_memory = guest.pages() * kPage;
        c.timing.silence_timeout_ns = 100'000'000;
        return c;
    }

    void start_primary(std::uint32_t sync_share_percent = 50, std::uint64_t exit_budget_ns = 0) {
        tandem::engine::PrimaryOptions o;
        o.epoch_ticks = kEpochNs;
        o.slice_ticks = kTickNs * 3 / 10;
        o.progress_ticks = 0;
        o.sync_share_percent = sync_share_percent;
        o.exit_budget_ticks = exit_budget_ns;
        REQUIRE(primary->listen(config(0), test::secret_for(0x40), test_random, o));
    }

    BackupSide& start_backup(std::uint8_t key_byte = 0x40) {
        backup = std::make_unique<BackupSide>(guest.pages(), link, clock, backup_out);
        wire.committed = backup->rig.backup.get();
        tandem::engine::BackupOptions o;
        REQUIRE(backup->replicator->listen(config(1), test::secret_for(key_byte), test_random, o));
        backup->rig.backup->set_keepalive(&backup->slow_apply);
        backup->busy_for = [this](std::uint64_t ns) { primary_alone_for(ns); };
        return *backup;
    }
    void kill_backup() {
        backup->alive = false;
        link.attach(1, nullptr);
    }
    void kill_primary() {
        primary_alive = false;
        link.attach(0, nullptr);
    }

    // A guest write as the processor does it: a protected page faults into the engine (or, when
    // nothing is being captured, is simply made writable, as the machine's hook does).
    void guest_write(std::uint64_t page, std::size_t offset, std::uint8_t value) {
        auto on_full = [&] { tracker.on_pml_full(); };
        if (!ckpt::cpu_write(ept, log, page, on_full)) {
            if (primary->capturing()) {
                REQUIRE(engine->on_write_fault(page * kPage + offset));
            } else {
                ept.set_write_protect(page, false);
            }
            REQUIRE(ckpt::cpu_write(ept, log, page, on_full));
        }
        guest.page(page)[offset] = value;
    }
    // The guest sends a frame: tagged with the epoch it belongs to and whether output is held.
    void guest_send() {
        std::uint8_t frame[64]{};
        std::uint64_t epoch = engine->epochs_started();
        bool held = primary->phase() == tandem::engine::PrimaryReplicator::Phase::protecting;
        for (int i = 0; i < 8; ++i) frame[i] = static_cast<std::uint8_t>(frames_produced >> (8 * i));
        for (int i = 0; i < 8; ++i) frame[8 + i] = static_cast<std::uint8_t>(epoch >> (8 * i));
        frame[16] = held ? 1 : 0;
        if (output.transmit(frame)) ++frames_produced;
    }

    // While the backup is busy inside an operation (and cannot receive), `ns` of time pass for
    // the primary: its frames arrive, it ticks.
    void primary_alone_for(std::uint64_t ns) {
        link.set_held(1, true);
        std::uint64_t end = clock.now + ns;
        while (clock.now < end) {
            link.deliver_due();
            if (primary_alive && clock.now >= next_tick) {
                next_tick = clock.now + kTickNs;
                REQUIRE(primary->tick());
            }
            std::uint64_t next = link.next_due();
            std::uint64_t limit = clock.now + 100'000 < end ? clock.now + 100'000 : end;
            clock.now = next > clock.now && next < limit ? next : limit;
        }
        link.set_held(1, false);
    }

    // One step of simulated time: link deliveries, the backup's loop, the primary's tick (each
    // millisecond, with guest activity between ticks).
    void step() {
        if (backup && backup->alive) backup->replicator->listening();  // as PairSession::poll_backup does
        link.deliver_due();
        if (backup && backup->alive) {
            if (backup->replicator->poll()) took_over = true;
        }
        if (primary_alive && clock.now >= next_tick) {
            next_tick = clock.now + kTickNs;
            for (unsigned i = 0; i < writes_per_tick; ++i) {
                guest_write(ckpt::below(rng, guest.pages()), ckpt::below(rng, kPage), static_cast<std::uint8_t>(rng()));
            }
            state.tsc += 1000;
            state.device_.value = rng();
            if (send_every_ticks != 0 && ++tick_count % send_every_ticks == 0) guest_send();
            std::uint64_t began = clock.now;
            REQUIRE(primary->tick(began));
            if (clock.now - began > longest_tick_ns) longest_tick_ns = clock.now - began;
        }
        std::uint64_t next = link.next_due();
        std::uint64_t limit = clock.now + 100'000;
        clock.now = next > clock.now && next < limit ? next : limit;
    }
    bool run_until(const std::function<bool()>& done, std::uint64_t limit_ns) {
        std::uint64_t end = clock.now + limit_ns;
        while (clock.now < end) {
            if (done()) return true;
            step();
        }
        return done();
    }
    void run_for(std::uint64_t ns) {
        std::uint64_t end = clock.now + ns;
        while (clock.now < end) step();
    }
    bool protected_pair() const {
        return primary->phase() == tandem::engine::PrimaryReplicator::Phase::protecting && backup &&
               backup->replicator->is_protected() && primary->has_ack() && primary->acked_epoch() >= primary->protected_from();
    }
    // Stops the guest and lets the pair settle: the backup then holds exactly the guest.
    void quiesce_and_compare() {
        unsigned saved_writes = writes_per_tick, saved_send = send_every_ticks;
        writes_per_tick = 0;
        send_every_ticks = 0;
        // Two boundaries without writes: the second captures the final memory.
        std::uint64_t target = engine->epochs_started() + 2;
        REQUIRE(run_until([&] { return engine->epochs_started() >= target && !engine->transferring() && queue.size() == 0 &&
                                       primary_transport->acked_everything() &&
                                       backup->rig.backup->has_committed() &&
                                       backup->rig.backup->committed_epoch() + 1 == engine->epochs_started(); },
                          5'000'000'000));
        CHECK(backup->rig.image.snapshot() == guest.snapshot());
        CHECK(*backup->rig.backup->committed_cpu().get(tandem::checkpoint::cpu_state_keys::guest_tsc) == state.captured_tsc);
        CHECK(state.captured_tsc != 0);
        writes_per_tick = saved_writes;
        send_every_ticks = saved_send;
    }

    test::SimClock clock;
    test::SimLink link;
    SimTicks ticks;
    Rng rng;
    ckpt::TestGuest guest, reference, staging;
    std::vector<std::uint32_t> slots;
    std::vector<std::uint64_t> words;
    tandem::dirty::DirtyBitmap sending, current;
    ckpt::FakeEptControl ept;
    ckpt::FakePmlLog pml;
    ckpt::FakePmlLog* log;
    tandem::dirty::DirtyTracker tracker;
    State state;
    std::vector<std::uint8_t> queue_bytes;
    tandem::engine::StreamQueue queue;
    CostlySink costly_queue;
    std::unique_ptr<tandem::checkpoint::EpochEncoder> encoder;
    std::unique_ptr<tandem::engine::CheckpointEngine> engine;
    Wire wire;
    std::vector<std::uint8_t> output_bytes;
    tandem::engine::OutputCommitBuffer output;
    SinkSwitch primary_sink;
    std::unique_ptr<tandem::link::Transport> primary_transport;
    std::unique_ptr<tandem::engine::PrimaryReplicator> primary;
    StringWriter primary_out, backup_out;
    std::unique_ptr<BackupSide> backup;
    bool primary_alive = true;
    bool took_over = false;
    std::uint64_t next_tick = 0;
    std::uint64_t longest_tick_ns = 0;  // of the ticks step() ran
    std::uint64_t tick_count = 0;
    unsigned writes_per_tick = 3;
    unsigned send_every_ticks = 2;
    std::uint64_t frames_produced = 0;
};

}  // namespace pair_test
