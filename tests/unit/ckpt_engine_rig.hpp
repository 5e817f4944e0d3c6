// The checkpoint engine (replication/engine/checkpoint_engine.hpp) wired as the loopback session
// wires it, with fakes at every edge: guest, reference and staging memories over host buffers, a
// fake EPT (ckpt_fake_ept.hpp) and PML log, a state source with a fake device, a clock the test
// drives, and a sink that feeds a real StreamDecoder + BackupImage. Guest writes go through the
// fake processor, so protected pages fault into the engine as they would on the machine.
#pragma once

#include <doctest/doctest.h>

#include <memory>
#include <vector>

#include "ckpt_fake_ept.hpp"
#include "ckpt_memory.hpp"
#include "replication/engine/checkpoint_engine.hpp"

namespace ckpt {

class FakeClock final : public tandem::engine::TickClock {
public:
    std::uint64_t now() const override { return t; }
    std::uint64_t t = 1'000'000;
};

class FakeDevice final : public tandem::StatefulDevice {
public:
    std::uint16_t state_id() const override { return 7; }
    std::uint16_t state_version() const override { return 3; }
    const char* state_name() const override { return "fake"; }
    void save_state(tandem::ByteWriter& out) const override { out.put_bytes(state); }
    tandem::Status restore_state(std::uint16_t, std::span<const std::uint8_t> in) override {
        state.assign(in.begin(), in.end());
        return tandem::success();
    }
    Bytes state;
};

// The vCPU is whatever the test put in `cpu`; capturing it costs kCaptureTicks on the clock.
class FakeStateSource final : public tandem::engine::StateSource {
public:
    static constexpr std::uint64_t kCaptureTicks = 1000;
    explicit FakeStateSource(FakeClock& clock) : clock_(clock), cpu(std::make_unique<tandem::checkpoint::CpuState>()) {}
    tandem::Status capture_cpu(tandem::checkpoint::CpuState& out) override {
        clock_.t += kCaptureTicks;
        if (fail) return tandem::Error::of("test: no vCPU");
        out = *cpu;
        return tandem::success();
    }
    std::size_t device_count() const override { return devices.size(); }
    tandem::StatefulDevice& device(std::size_t i) override { return *devices.at(i); }

private:
    FakeClock& clock_;

public:
    std::unique_ptr<tandem::checkpoint::CpuState> cpu;
    std::vector<tandem::StatefulDevice*> devices;
    bool fail = false;
};

// Feeds the backup's decoder; every write costs one tick.
class TickingSink final : public tandem::checkpoint::RecordSink {
public:
    TickingSink(tandem::checkpoint::StreamDecoder& decoder, FakeClock& clock) : decoder_(decoder), clock_(clock) {}
    tandem::Status write(std::span<const std::uint8_t> data) override {
        ++clock_.t;
        ++writes;
        bytes += data.size();
        return decoder_.feed(data);
    }
    std::uint64_t writes = 0, bytes = 0;

private:
    tandem::checkpoint::StreamDecoder& decoder_;
    FakeClock& clock_;
};

struct EngineRig {
    EngineRig(std::uint64_t pages, tandem::DirtyTracking method, tandem::engine::CaptureMode mode, bool deltas = true)
        : primary(pages),
          reference(pages),
          staging(pages),
          slots(pages, 0x5a5a5a5a),
          words(3 * tandem::dirty::DirtyBitmap::words_for(pages)),
          sending(std::span(words).first(words.size() / 3), pages),
          current(std::span(words).subspan(words.size() / 3, words.size() / 3), pages),
          ept(pages),
          log(method == tandem::DirtyTracking::pml ? &pml : nullptr),
          tracker(method, ept, log, current),
          backup(pages),
          state(clock),
          sink(*backup.decoder, clock),
          encoder(std::make_unique<tandem::checkpoint::EpochEncoder>(sink)) {
        state.devices.push_back(&device);
        engine = std::make_unique<tandem::engine::CheckpointEngine>(
            tandem::engine::EngineMemory{primary.memory(), reference.memory(), staging.memory(), slots, sending}, tracker,
            ept, state, *encoder, clock, mode, deltas);
    }

    // A guest write of `bytes` at `offset` in `page`, as the processor performs it: a protected
    // page faults into the engine first, which must make it writable.
    void write(std::uint64_t page, std::size_t offset, std::span<const std::uint8_t> bytes) {
        auto on_full = [&] { tracker.on_pml_full(); };
        if (!cpu_write(ept, log, page, on_full)) {
            ++faults;
            REQUIRE(engine->on_write_fault(page * kPage + offset));
            REQUIRE(cpu_write(ept, log, page, on_full));
        }
        std::copy(bytes.begin(), bytes.end(), primary.page(page).begin() + static_cast<std::ptrdiff_t>(offset));
    }
    void write_byte(std::uint64_t page, std::size_t offset, std::uint8_t value) { write(page, offset, {&value, 1}); }
    // A random write: a few bytes, a whole page, zeros, or the same bytes again.
    void random_write(Rng& rng) {
        std::uint64_t page = below(rng, primary.pages());
        Bytes bytes;
        switch (below(rng, 4)) {
            case 0: bytes.resize(1 + below(rng, 16)); fill_random(bytes, rng); break;
            case 1: bytes.resize(kPage); fill_random(bytes, rng); break;
            case 2: bytes.assign(kPage, 0); break;
            default: bytes.assign(primary.page(page).begin(), primary.page(page).begin() + 64); break;
        }
        write(page, bytes.size() == kPage ? 0 : below(rng, kPage - bytes.size()), bytes);
    }

    struct Snapshot {
        Bytes memory;
        std::uint64_t cpu_digest;
        Bytes device;
    };
    // The primary as captured at the boundary just taken (the guest has not run since).
    Snapshot capture() const {
        return {primary.snapshot(), engine->captured_state_digest(), device.state};
    }
    void check_backup_is(std::uint64_t epoch, const Snapshot& s) {
        CHECK_FALSE(backup.decoder->failed());
        REQUIRE(backup.backup->has_committed());
        CHECK(backup.backup->committed_epoch() == epoch);
        CHECK(backup.image.snapshot() == s.memory);
        CHECK(backup.backup->committed_cpu().digest() == s.cpu_digest);
        auto devices = backup.backup->committed_devices();
        REQUIRE(devices.size() == 1);
        CHECK(devices[0].id == 7);
        CHECK(devices[0].version == 3);
        CHECK(Bytes(devices[0].bytes, devices[0].bytes + devices[0].size) == s.device);
    }

    TestGuest primary, reference, staging;
    std::vector<std::uint32_t> slots;
    std::vector<std::uint64_t> words;
    tandem::dirty::DirtyBitmap sending, current;
    FakeEptControl ept;
    FakePmlLog pml;
    FakePmlLog* log;
    tandem::dirty::DirtyTracker tracker;
    BackupRig backup;
    FakeClock clock;
    FakeStateSource state;
    FakeDevice device;
    TickingSink sink;
    std::unique_ptr<tandem::checkpoint::EpochEncoder> encoder;
    std::unique_ptr<tandem::engine::CheckpointEngine> engine;
    unsigned faults = 0;
};

}  // namespace ckpt
