// The checkpoint engine (replication/engine/checkpoint_engine.hpp) over fakes (ckpt_engine_rig.hpp)
// feeding a real decoder and backup image: after every completed epoch the backup equals the
// primary as it was at that epoch's capture, whatever the guest writes meanwhile, with every
// dirty-tracking method and both capture modes; plus the statistics and memory_digest.
#include <doctest/doctest.h>

#include <map>
#include <memory>

#include "ckpt_engine_rig.hpp"
#include "replication/engine/memory_digest.hpp"

using tandem::DirtyTracking;
using tandem::GuestMemory;
using namespace tandem::engine;
namespace checkpoint = tandem::checkpoint;
using ckpt::Bytes;
using ckpt::EngineRig;
using ckpt::err;
using ckpt::kPage;

namespace {

const char* name(DirtyTracking m) {
    return m == DirtyTracking::pml ? "pml" : m == DirtyTracking::ad_bits ? "ad" : "wp";
}

// Pages 0-5 zero, 6-9 random, 10-15 nearly zero (a few bytes set).
void initial_content(EngineRig& r, ckpt::Rng& rng) {
    for (std::uint64_t p = 6; p < 10; ++p) ckpt::fill_random(r.primary.page(p), rng);
    for (std::uint64_t p = 10; p < 16; ++p) r.primary.page(p)[p * 100] = static_cast<std::uint8_t>(p);
}

}  // namespace

TEST_CASE("checkpoint engine: random epochs in copy and cow capture with every tracking method") {
    for (DirtyTracking method : {DirtyTracking::pml, DirtyTracking::ad_bits, DirtyTracking::write_protect}) {
        for (CaptureMode mode : {CaptureMode::copy, CaptureMode::cow}) {
            CAPTURE(name(method));
            CAPTURE(mode == CaptureMode::cow);
            auto r = std::make_unique<EngineRig>(48, method, mode);
            ckpt::Rng rng(static_cast<std::uint64_t>(method) * 10 + static_cast<std::uint64_t>(mode));
            initial_content(*r, rng);
            std::map<std::uint64_t, EngineRig::Snapshot> snaps;
            ckpt::random_cpu(*r->state.cpu, rng, 30, 512);
            r->device.state = {1, 2, 3};
            REQUIRE(err(r->engine->start()) == "");
            snaps[0] = r->capture();
            std::uint64_t cow = 0, completed = 0, left_unfinished = 0;
            unsigned faults_in_first_epoch = 0;
            for (std::uint64_t epoch = 0; epoch < 32; ++epoch) {
                CAPTURE(epoch);
                if (epoch > 0) {
                    for (std::uint64_t w = ckpt::below(rng, 24); w > 0; --w) r->random_write(rng);
                    ckpt::random_cpu(*r->state.cpu, rng, 1 + ckpt::below(rng, 100), ckpt::below(rng, 1024));
                    ckpt::fill_random(r->device.state, rng);
                    bool unfinished = r->engine->transferring();
                    REQUIRE(err(r->engine->epoch_boundary()) == "");
                    if (unfinished) {  // the boundary completed the previous epoch first
                        ++left_unfinished;
                        if (epoch == 1) faults_in_first_epoch = r->faults;
                        r->check_backup_is(epoch - 1, snaps[epoch - 1]);
                        CHECK(r->engine->stats().backlog_ticks > 0);
                    }
                    snaps[epoch] = r->capture();
                }
                CHECK(r->engine->stats().epoch == epoch);
                // The guest runs while the epoch goes out in slices; sometimes the next boundary
                // comes before the transfer is done.
                bool finish = ckpt::below(rng, 3) != 0;
                while (r->engine->transferring()) {
                    if (!finish && ckpt::below(rng, 4) == 0) break;
                    REQUIRE(err(r->engine->transfer(1 + ckpt::below(rng, 6))) == "");
                    for (std::uint64_t w = ckpt::below(rng, 3); w > 0; --w) r->random_write(rng);
                }
                if (!r->engine->transferring()) {
                    ++completed;
                    r->check_backup_is(epoch, snaps[epoch]);
                    CHECK(r->engine->last_completed_epoch() == epoch);
                    if (epoch != 0) cow += r->engine->completed_stats().cow_copies;  // the first: below
                    if (epoch == 0) faults_in_first_epoch = r->faults;
                }
            }
            CHECK(completed > 16);
            CHECK(left_unfinished > 0);
            if (mode == CaptureMode::cow) {
                CHECK(cow > 0);
            } else {
                CHECK(cow == 0);
            }
            if (method == DirtyTracking::write_protect || mode == CaptureMode::cow) {
                CHECK(r->faults > faults_in_first_epoch);
            } else {
                // Copy capture over PML or D bits protects guest RAM only for the first epoch.
                CHECK(r->faults == faults_in_first_epoch);
            }
        }
    }
}

TEST_CASE("checkpoint engine: cow delivers the captured content of a page the guest writes before it is sent") {
    for (DirtyTracking method : {DirtyTracking::pml, DirtyTracking::ad_bits, DirtyTracking::write_protect}) {
        CAPTURE(name(method));
        auto r = std::make_unique<EngineRig>(16, method, CaptureMode::cow);
        ckpt::Rng rng(1);
        initial_content(*r, rng);
        REQUIRE(r->engine->start());
        REQUIRE(r->engine->transfer(~0ull));
        for (std::uint64_t p : {2u, 5u, 9u}) r->write_byte(p, 8, 0x11);
        REQUIRE(r->engine->epoch_boundary());
        auto at_capture = r->capture();
        CHECK(r->engine->stats().dirty_pages == 3);
        for (std::uint64_t p = 0; p < 16; ++p) {
            CAPTURE(p);
            bool in_epoch = p == 2 || p == 5 || p == 9;
            CHECK(r->ept.pages[p].writable == (!in_epoch && method != DirtyTracking::write_protect));
        }
        REQUIRE(r->engine->transfer(1));  // page 2 is out
        CHECK(r->ept.pages[2].writable == (method != DirtyTracking::write_protect));
        unsigned faults = r->faults;
        r->write_byte(9, 8, 0x99);  // not sent yet: copied aside first
        CHECK(r->faults == faults + 1);
        CHECK(r->engine->stats().cow_copies == 1);
        CHECK(r->ept.pages[9].writable);
        r->write_byte(9, 9, 0x98);  // writable now: no second fault, no second copy
        r->write_byte(2, 8, 0x22);  // already sent: nothing to copy
        CHECK(r->engine->stats().cow_copies == 1);
        REQUIRE(r->engine->transfer(~0ull));
        r->check_backup_is(1, at_capture);
        CHECK(r->backup.image.page(9)[8] == 0x11);
        CHECK(r->engine->completed_stats().cow_copies == 1);
        // The new content goes out with the next epoch.
        REQUIRE(r->engine->epoch_boundary());
        CHECK(r->engine->stats().dirty_pages == 2);
        auto next = r->capture();
        REQUIRE(r->engine->transfer(~0ull));
        r->check_backup_is(2, next);
        CHECK(r->backup.image.page(9)[8] == 0x99);
        CHECK(r->backup.image.page(9)[9] == 0x98);
        CHECK(r->backup.image.page(2)[8] == 0x22);
        if (method != DirtyTracking::write_protect) {
            for (const auto& p : r->ept.pages) CHECK(p.writable);  // cow leaves nothing protected behind
        }
    }
}

// A join must not stop the guest (and the link) for a copy or a clear of all of guest RAM: the
// first epoch is copy-on-write even with capture=copy, encoded against zero whatever the
// reference holds, and leaves nothing protected once sent.
TEST_CASE("checkpoint engine: the first epoch is copy-on-write in both modes and ignores the reference") {
    for (DirtyTracking method : {DirtyTracking::pml, DirtyTracking::ad_bits, DirtyTracking::write_protect}) {
        for (CaptureMode mode : {CaptureMode::copy, CaptureMode::cow}) {
            CAPTURE(name(method));
            CAPTURE(mode == CaptureMode::cow);
            auto r = std::make_unique<EngineRig>(16, method, mode);
            ckpt::Rng rng(3);
            initial_content(*r, rng);
            for (std::uint64_t p = 0; p < 16; ++p) ckpt::fill_random(r->reference.page(p), rng);  // stale
            REQUIRE(r->engine->start());
            auto at_capture = r->capture();
            for (std::uint64_t p = 0; p < 16; ++p) CHECK_FALSE(r->ept.pages[p].writable);
            CHECK(r->ept.count(ckpt::FakeEptControl::Op::protect) == 16);
            REQUIRE(r->engine->transfer(4));  // pages 0-3 out
            r->write_byte(9, 1, 0x77);        // not sent yet: copied aside first
            r->write_byte(2, 1, 0x66);        // sent: no copy
            CHECK(r->engine->stats().cow_copies == 1);
            REQUIRE(r->engine->transfer(~0ull));
            r->check_backup_is(0, at_capture);
            CHECK(r->engine->completed_stats().cow_copies == 1);
            CHECK(r->engine->completed_stats().pages_zero == 6);  // against zero, not the stale reference
            CHECK(r->reference.snapshot() == at_capture.memory);  // the reference is what the backup holds
            if (method != DirtyTracking::write_protect) {
                for (const auto& p : r->ept.pages) CHECK(p.writable);
            }
            // The next epoch goes as the mode says.
            r->write_byte(5, 0, 0x55);
            REQUIRE(r->engine->epoch_boundary());
            auto next = r->capture();
            unsigned faults = r->faults;
            r->write_byte(5, 1, 0x56);
            CHECK(r->faults == faults + (mode == CaptureMode::cow || method == DirtyTracking::write_protect ? 1 : 0));
            REQUIRE(r->engine->transfer(~0ull));
            r->check_backup_is(1, next);
        }
    }
}

TEST_CASE("checkpoint engine: start sends every page; statistics per epoch") {
    auto r = std::make_unique<EngineRig>(16, DirtyTracking::pml, CaptureMode::copy);
    ckpt::Rng rng(2);
    initial_content(*r, rng);
    r->device.state = {4, 5};
    REQUIRE(r->engine->start());
    CHECK(r->engine->transferring());
    CHECK(r->engine->stats().dirty_pages == 16);
    CHECK(r->engine->stats().pause_ticks == ckpt::FakeStateSource::kCaptureTicks + 2);  // + EPOCH_BEGIN's two writes
    CHECK_FALSE(r->backup.backup->has_committed());
    std::uint64_t bytes_before = r->sink.bytes;
    for (int slice = 0; slice < 15; ++slice) {
        REQUIRE(r->engine->transfer(1));
        CHECK(r->engine->transferring());
        CHECK_FALSE(r->backup.backup->has_committed());
    }
    REQUIRE(r->engine->transfer(1));  // the last page, then CPU, device and EPOCH_END
    CHECK_FALSE(r->engine->transferring());
    CHECK(r->engine->has_completed());
    auto s = r->engine->completed_stats();
    CHECK(s.epoch == 0);
    CHECK(s.pages_zero == 6);
    CHECK(s.pages_full == 4);
    CHECK(s.pages_delta == 6);
    CHECK(s.bytes == r->sink.bytes);
    CHECK(bytes_before == checkpoint::kRecordHeader + checkpoint::kEpochBeginPayload);  // only EPOCH_BEGIN in the pause
    CHECK(r->engine->transfer(5));  // nothing left: a no-op
    CHECK(r->sink.bytes == s.bytes);

    r->write_byte(6, 0, 0x42);                                  // delta
    r->write(10, 0, Bytes(kPage, 0));                           // zero
    r->write(0, 0, Bytes(kPage, 0x77));                         // whole
    REQUIRE(r->engine->epoch_boundary());
    CHECK(r->engine->stats().epoch == 1);
    CHECK(r->engine->stats().dirty_pages == 3);
    CHECK(r->engine->stats().backlog_ticks == 0);
    std::uint64_t sunk = r->sink.bytes;
    REQUIRE(r->engine->transfer(~0ull));
    s = r->engine->completed_stats();
    CHECK(s.epoch == 1);
    CHECK(s.pages_delta == 1);
    CHECK(s.pages_zero == 1);
    CHECK(s.pages_full == 1);
    CHECK(s.cow_copies == 0);
    CHECK(s.bytes == r->sink.bytes - sunk + checkpoint::kRecordHeader + checkpoint::kEpochBeginPayload);
    CHECK(r->backup.backup->committed_epoch() == 1);

    // A boundary that must first finish the previous transfer reports it as backlog: the two
    // writes of each remaining record (2 pages, CPU, device, EPOCH_END).
    r->write(1, 0, Bytes(kPage, 1));
    r->write(2, 0, Bytes(kPage, 2));
    r->write(3, 0, Bytes(kPage, 3));
    REQUIRE(r->engine->epoch_boundary());
    REQUIRE(r->engine->transfer(1));
    REQUIRE(r->engine->epoch_boundary());
    CHECK(r->engine->stats().backlog_ticks == 2 * (2 + 3));
    CHECK(r->backup.backup->committed_epoch() == 2);
    CHECK(r->engine->epochs_started() == 4);
}

TEST_CASE("checkpoint engine: without deltas every non-zero page goes whole") {
    auto r = std::make_unique<EngineRig>(16, DirtyTracking::ad_bits, CaptureMode::copy, false);
    ckpt::Rng rng(3);
    initial_content(*r, rng);
    REQUIRE(r->engine->start());
    auto snap = r->capture();
    REQUIRE(r->engine->transfer(~0ull));
    CHECK(r->engine->completed_stats().pages_delta == 0);
    CHECK(r->engine->completed_stats().pages_full == 10);
    r->check_backup_is(0, snap);
}

TEST_CASE("checkpoint engine: faults outside guest RAM, failing state capture, oversized device state") {
    auto r = std::make_unique<EngineRig>(8, DirtyTracking::write_protect, CaptureMode::cow);
    CHECK_FALSE(r->engine->on_write_fault(8 * kPage));
    CHECK_FALSE(r->engine->on_write_fault(~0ull));
    CHECK(r->engine->transfer(3));  // nothing started: nothing to do
    r->state.fail = true;
    CHECK(err(r->engine->start()) == "test: no vCPU");
    r->state.fail = false;
    r->device.state.assign(checkpoint::kDeviceStateMaxPayload + 1, 0);
    CHECK(err(r->engine->start()) == "checkpoint: device state too large");
    r->device.state.assign(checkpoint::kDeviceStateMaxPayload - 4, 0);  // the most a record carries
    REQUIRE(err(r->engine->start()) == "");
    REQUIRE(err(r->engine->transfer(~0ull)) == "");
    CHECK(r->backup.backup->committed_devices()[0].size == checkpoint::kDeviceStateMaxPayload - 4);
}

// Regression test (bug found and fixed): checkpoint_engine.cpp:45-47 — capture() saves device state into DeviceStateBlob::bytes,
// which is kDeviceStateMaxPayload (1028) bytes, but a DEVICE_STATE record carries at most
// kDeviceStateMaxPayload - 4 (1024) bytes of state (encoder.cpp:91). A device state of 1025-1028
// bytes passes the capture check and the whole epoch's pages are sent before finish_epoch fails
// with "checkpoint: device state too large". Expected: refused at capture, before anything is sent.
TEST_CASE("checkpoint engine: a device state too large for its record is refused at capture") {
    auto r = std::make_unique<EngineRig>(8, DirtyTracking::pml, CaptureMode::copy);
    r->device.state.assign(checkpoint::kDeviceStateMaxPayload - 2, 0);
    CHECK(err(r->engine->start()) == "checkpoint: device state too large");
    CHECK(r->sink.bytes == 0);
}

TEST_CASE("checkpoint engine: memory digest of whole memories and of each page") {
    ckpt::TestGuest a(8), b(8);
    ckpt::Rng rng(4);
    for (std::uint64_t p = 0; p < 8; ++p) ckpt::fill_random(a.page(p), rng);
    b.restore(a.snapshot());
    test::VectorHostMemory host(0x9000'0000, 8 * kPage);  // the same bytes in one chunk
    GuestMemory one(host);
    REQUIRE(one.append(0x9000'0000, 8 * kPage));
    REQUIRE(one.write(0, a.snapshot()));
    std::vector<std::uint64_t> pa(8), pb(8), short_list(3, 0);
    auto da = tandem::engine::memory_digest(a.memory(), pa);
    REQUIRE(da);
    CHECK(*tandem::engine::memory_digest(b.memory()) == *da);
    CHECK(*tandem::engine::memory_digest(one) == *da);
    for (std::uint64_t offset : std::vector<std::uint64_t>{0, 4095, kPage + 2048, 7 * kPage + 4095}) {
        CAPTURE(offset);
        b.restore(a.snapshot());
        std::uint8_t x = 0;
        REQUIRE(b.memory().read(offset, {&x, 1}));
        x ^= 0x40;
        REQUIRE(b.memory().write(offset, {&x, 1}));
        auto db = tandem::engine::memory_digest(b.memory(), pb);
        REQUIRE(db);
        CHECK(*db != *da);
        for (std::uint64_t p = 0; p < 8; ++p) CHECK((pa[p] == pb[p]) == (p != offset / kPage));
    }
    REQUIRE(tandem::engine::memory_digest(a.memory(), short_list));
    CHECK(std::vector<std::uint64_t>(pa.begin(), pa.begin() + 3) == short_list);
}
