// The backup side of the checkpoint stream (decoder.hpp, backup_image.hpp) on hand-made streams
// (ckpt_stream_builder.hpp): each stream is well-formed except for the one thing under test, is
// rejected with its reason, leaves the committed epoch exactly as it was, and leaves the decoder
// refusing input until reset(), after which a fresh epoch applies.
#include <doctest/doctest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "ckpt_memory.hpp"
#include "ckpt_stream_builder.hpp"
#include "replication/checkpoint/delta_codec.hpp"
#include "replication/engine/keepalive.hpp"

using namespace tandem::checkpoint;
using ckpt::Bytes;
using ckpt::err;
using ckpt::kPage;
using ckpt::StreamBuilder;

namespace {

constexpr std::uint64_t kPages = 8;
constexpr std::uint64_t kRam = kPages * kPage;
constexpr std::uint64_t kCommitted = 5;

// A backup with epoch 5 committed: page 1 all 0x11, page 2 all 0x22, one device.
struct Committed {
    Committed() : rig(kPages), cpu(std::make_unique<CpuState>()) {
        ckpt::small_cpu(*cpu, 0x5000);
        Bytes p1(kPage, 0x11), p2(kPage, 0x22);
        StreamBuilder b;
        b.begin(kCommitted, kRam).full(1 * kPage, p1).full(2 * kPage, p2).cpu(*cpu).device(1, 1, Bytes{9, 9}).end();
        REQUIRE(err(rig.feed(b.bytes)) == "");
        REQUIRE(rig.backup->committed_epoch() == kCommitted);
        image = rig.image.snapshot();
    }

    // `bytes` is refused with `message`; nothing committed changes; the decoder then refuses
    // everything until reset(), after which a fresh epoch applies.
    void check_rejected(const Bytes& bytes, const char* message) {
        ckpt::Rng rng(bytes.size());
        CHECK(err(rig.feed_chunked(bytes, rng)) == message);
        CHECK(rig.decoder->failed());
        CHECK_FALSE(rig.backup->in_epoch());
        check_intact();
        StreamBuilder good;
        auto c = std::make_unique<CpuState>();
        good.begin(kCommitted + 1, kRam).zero(1 * kPage).cpu(ckpt::small_cpu(*c, 0x6000)).end();
        CHECK(err(rig.feed(good.bytes)) == "checkpoint: decoder stopped after an error (reset needed)");
        check_intact();
        rig.decoder->reset();
        CHECK_FALSE(rig.decoder->failed());
        REQUIRE(err(rig.feed(good.bytes)) == "");
        CHECK(rig.backup->committed_epoch() == kCommitted + 1);
        CHECK(rig.image.page(1)[0] == 0);
        CHECK(rig.backup->committed_cpu().get(0x681e) == 0x6000);
        CHECK(rig.backup->committed_devices().empty());
    }
    void check_intact() {
        CHECK(rig.backup->has_committed());
        CHECK(rig.backup->committed_epoch() == kCommitted);
        CHECK(rig.image.snapshot() == image);
        CHECK(rig.backup->committed_cpu().digest() == cpu->digest());
        REQUIRE(rig.backup->committed_devices().size() == 1);
        CHECK(rig.backup->committed_devices()[0].id == 1);
        CHECK(rig.backup->committed_devices()[0].size == 2);
    }

    ckpt::BackupRig rig;
    std::unique_ptr<CpuState> cpu;
    Bytes image;
};

// The start of a valid next epoch (6) with one page.
StreamBuilder next_epoch() {
    StreamBuilder b;
    b.begin(kCommitted + 1, kRam).zero(3 * kPage);
    return b;
}

StreamBuilder& with_cpu(StreamBuilder& b) {
    auto c = std::make_unique<CpuState>();
    return b.cpu(ckpt::small_cpu(*c, 0x7000));
}

}  // namespace

TEST_CASE("backup image: nothing committed at first; a valid epoch commits pages, CPU and devices") {
    ckpt::BackupRig rig(kPages);
    CHECK_FALSE(rig.backup->has_committed());
    CHECK(rig.backup->committed_devices().empty());
    Committed c;
    CHECK(c.rig.image.page(1)[4095] == 0x11);
    CHECK(c.rig.image.page(2)[0] == 0x22);
    CHECK(c.rig.image.page(0)[0] == 0);
    CHECK(c.rig.decoder->epochs_applied() == 1);
    CHECK(c.rig.decoder->records() == 6);
}

TEST_CASE("backup image: a delta applies to the committed copy; an epoch may carry no pages") {
    Committed c;
    Bytes runs;
    StreamBuilder::run(runs, 10, 2, 0xee);
    StreamBuilder b;
    with_cpu(b.begin(6, kRam).delta(2 * kPage, runs)).end();
    with_cpu(b.begin(7, kRam)).end();
    REQUIRE(err(c.rig.feed(b.bytes)) == "");
    CHECK(c.rig.backup->committed_epoch() == 7);
    Bytes expected(kPage, 0x22);
    expected[10] = expected[11] = 0xee;
    CHECK(Bytes(c.rig.image.page(2).begin(), c.rig.image.page(2).end()) == expected);
    CHECK(c.rig.backup->committed_cpu().get(0x681e) == 0x7000);
}

TEST_CASE("backup image: the stream header is checked (version, RAM size, page size, epoch order)") {
    Committed c;
    StreamBuilder b;
    SUBCASE("format version") { with_cpu(b.begin(6, kRam, kPageSize, kFormatVersion + 1)).end(); c.check_rejected(b.bytes, "checkpoint: unsupported stream format version"); }
    SUBCASE("format version 0") { b.begin(6, kRam, kPageSize, 0); c.check_rejected(b.bytes, "checkpoint: unsupported stream format version"); }
    SUBCASE("larger RAM") { b.begin(6, kRam + kPage); c.check_rejected(b.bytes, "checkpoint: guest RAM size differs from the backup's"); }
    SUBCASE("smaller RAM") { b.begin(6, kRam - kPage); c.check_rejected(b.bytes, "checkpoint: guest RAM size differs from the backup's"); }
    SUBCASE("page size") { b.begin(6, kRam, 2048); c.check_rejected(b.bytes, "checkpoint: unsupported page size"); }
    SUBCASE("page size 8 KiB") { b.begin(6, kRam, 8192); c.check_rejected(b.bytes, "checkpoint: unsupported page size"); }
    SUBCASE("the committed epoch again") { with_cpu(b.begin(5, kRam)).end(); c.check_rejected(b.bytes, "checkpoint: epoch is not newer than the committed one"); }
    SUBCASE("an older epoch") { b.begin(0, kRam); c.check_rejected(b.bytes, "checkpoint: epoch is not newer than the committed one"); }
    SUBCASE("EPOCH_BEGIN inside an epoch") { b.begin(6, kRam).begin(7, kRam); c.check_rejected(b.bytes, "checkpoint: EPOCH_BEGIN inside an epoch"); }
}

TEST_CASE("backup image: pages outside RAM, misaligned or sent twice are refused") {
    Committed c;
    StreamBuilder b = next_epoch();
    Bytes page(kPage, 1), runs;
    StreamBuilder::run(runs, 0, 1, 1);
    SUBCASE("just past the end") { b.full(kRam, page); c.check_rejected(b.bytes, "checkpoint: page outside guest RAM"); }
    SUBCASE("far past the end") { b.zero(kRam * 100); c.check_rejected(b.bytes, "checkpoint: page outside guest RAM"); }
    SUBCASE("wrapping around") { b.zero(0xffff'ffff'ffff'f000ull); c.check_rejected(b.bytes, "checkpoint: page outside guest RAM"); }
    SUBCASE("a delta past the end") { b.delta(kRam, runs); c.check_rejected(b.bytes, "checkpoint: page outside guest RAM"); }
    SUBCASE("misaligned") { b.zero(kPage + 1); c.check_rejected(b.bytes, "checkpoint: page outside guest RAM"); }
    SUBCASE("misaligned full page") { b.full(0x800, page); c.check_rejected(b.bytes, "checkpoint: page outside guest RAM"); }
    SUBCASE("the same page twice") { b.full(3 * kPage, page); c.check_rejected(b.bytes, "checkpoint: page sent twice in one epoch"); }
    SUBCASE("twice as delta") { b.delta(4 * kPage, runs).delta(4 * kPage, runs); c.check_rejected(b.bytes, "checkpoint: page sent twice in one epoch"); }
    SUBCASE("a malformed delta") {
        Bytes bad;
        StreamBuilder::run(bad, 4000, 200, 1);
        b.delta(4 * kPage, bad);
        c.check_rejected(b.bytes, "delta: run extends past the page");
    }
    SUBCASE("before any EPOCH_BEGIN") {
        StreamBuilder d;
        d.zero(0);
        c.check_rejected(d.bytes, "checkpoint: page outside an epoch");
    }
}

TEST_CASE("backup image: EPOCH_END must match what arrived") {
    Committed c;
    StreamBuilder b = next_epoch();
    with_cpu(b.full(4 * kPage, Bytes(kPage, 4)));
    SUBCASE("page count too high") { b.end({.pages = 3}); c.check_rejected(b.bytes, "checkpoint: EPOCH_END page count differs from the pages received"); }
    SUBCASE("page count zero") { b.end({.pages = 0}); c.check_rejected(b.bytes, "checkpoint: EPOCH_END page count differs from the pages received"); }
    SUBCASE("record count +1") { b.end({.records = 6}); c.check_rejected(b.bytes, "checkpoint: EPOCH_END record count mismatch"); }
    SUBCASE("record count not counting itself") { b.end({.records = 4}); c.check_rejected(b.bytes, "checkpoint: EPOCH_END record count mismatch"); }
    SUBCASE("digest") { b.end({.digest = 12345}); c.check_rejected(b.bytes, "checkpoint: epoch digest mismatch"); }
    SUBCASE("another epoch") { b.end({.epoch = 7}); c.check_rejected(b.bytes, "checkpoint: EPOCH_END for an epoch that did not begin"); }
    SUBCASE("outside an epoch") {
        StreamBuilder d;
        d.end({.epoch = 6});
        c.check_rejected(d.bytes, "checkpoint: EPOCH_END outside an epoch");
    }
}

TEST_CASE("backup image: CPU and device state records are checked") {
    Committed c;
    StreamBuilder b = next_epoch();
    SUBCASE("no CPU state") { b.end(); c.check_rejected(b.bytes, "checkpoint: epoch without CPU state"); }
    SUBCASE("CPU state twice") { with_cpu(with_cpu(b)).end(); c.check_rejected(b.bytes, "checkpoint: CPU state sent twice in one epoch"); }
    SUBCASE("malformed CPU state") {
        b.record(5, Bytes{2, 0, 0, 0, 0, 0, 0, 0});
        c.check_rejected(b.bytes, "cpu state: unsupported version");
    }
    SUBCASE("empty CPU state record") { b.record(5, {}); c.check_rejected(b.bytes, "cpu state: truncated header"); }
    SUBCASE("CPU state outside an epoch") {
        StreamBuilder d;
        with_cpu(d);
        c.check_rejected(d.bytes, "checkpoint: CPU state outside an epoch");
    }
    SUBCASE("device twice") { b.device(3, 1, Bytes{1}).device(3, 2, Bytes{}); c.check_rejected(b.bytes, "checkpoint: device state sent twice in one epoch"); }
    SUBCASE("more devices than the backup keeps") {
        for (std::uint16_t id = 0; id <= BackupImage::kMaxDevices; ++id) b.device(id, 1, Bytes(3, 0));
        c.check_rejected(b.bytes, "checkpoint: too many devices");
    }
    SUBCASE("device outside an epoch") {
        StreamBuilder d;
        d.device(1, 1, Bytes{});
        c.check_rejected(d.bytes, "checkpoint: device state outside an epoch");
    }
}

TEST_CASE("backup image: unknown record types, reserved header bits and bad lengths are refused") {
    Committed c;
    StreamBuilder b = next_epoch();
    const char* kBad = "checkpoint: bad record type or length";
    SUBCASE("type 0") { b.record(0, Bytes(8)); c.check_rejected(b.bytes, kBad); }
    SUBCASE("type 8") { b.record(8, Bytes(8)); c.check_rejected(b.bytes, kBad); }
    SUBCASE("type 255") { b.record(255, {}); c.check_rejected(b.bytes, kBad); }
    SUBCASE("flags") { b.record(3, Bytes(8), {.flags = 1}); c.check_rejected(b.bytes, "checkpoint: reserved header bits set"); }
    SUBCASE("reserved low byte") { b.record(3, Bytes(8), {.reserved = 1}); c.check_rejected(b.bytes, "checkpoint: reserved header bits set"); }
    SUBCASE("reserved high byte") { b.record(3, Bytes(8), {.reserved = 0x8000}); c.check_rejected(b.bytes, "checkpoint: reserved header bits set"); }
    SUBCASE("reserved bits on EPOCH_END") {
        Bytes end(24);
        with_cpu(b).record(7, end, {.flags = 0x80});
        c.check_rejected(b.bytes, "checkpoint: reserved header bits set");
    }
}

TEST_CASE("backup image: record lengths out of bounds for their type are refused") {
    struct Case {
        std::uint8_t type;
        std::uint32_t length;
    };
    std::vector<Case> cases = {{1, 23}, {1, 25}, {2, 4103}, {2, 4105}, {3, 0}, {3, 16}, {4, 8}, {4, 0}, {4, 4105},
                               {5, 16 * 1024 + 1}, {6, 3}, {6, 1029}, {7, 31}, {7, 33}, {7, 0}};
    for (std::uint8_t type = 0; type < 10; ++type) cases.push_back({type, 0xffff'ffffu});  // 4 GiB - 1
    for (const Case& k : cases) {
        CAPTURE(static_cast<int>(k.type));
        CAPTURE(k.length);
        Committed c;
        StreamBuilder b = next_epoch();
        b.record(k.type, {}, {.length = k.length});
        c.check_rejected(b.bytes, "checkpoint: bad record type or length");
    }
}

TEST_CASE("backup image: a failed epoch leaves the committed device states; an epoch without any clears them") {
    Committed c;
    StreamBuilder b = next_epoch();
    with_cpu(b).device(1, 1, Bytes{7, 7, 7}).device(2, 1, Bytes{8}).end({.digest = 1});
    CHECK(err(c.rig.feed(b.bytes)) == "checkpoint: epoch digest mismatch");
    c.check_intact();
    c.rig.decoder->reset();
    StreamBuilder d;
    with_cpu(d.begin(6, kRam).device(4, 2, Bytes{1, 2, 3})).end();
    REQUIRE(err(c.rig.feed(d.bytes)) == "");
    REQUIRE(c.rig.backup->committed_devices().size() == 1);
    CHECK(c.rig.backup->committed_devices()[0].id == 4);
    CHECK(c.rig.backup->committed_devices()[0].version == 2);
    CHECK(c.rig.backup->committed_devices()[0].bytes[2] == 3);
}

TEST_CASE("backup image: a staging area smaller than the epoch is refused, not overrun") {
    ckpt::BackupRig rig(kPages, 2);
    StreamBuilder first;
    with_cpu(first.begin(1, kRam).full(0, Bytes(kPage, 1))).end();  // the first epoch needs no staging
    REQUIRE(err(rig.feed(first.bytes)) == "");
    StreamBuilder b;
    b.begin(2, kRam).zero(0).zero(kPage).zero(2 * kPage);
    CHECK(err(rig.feed(b.bytes)) == "checkpoint: staging area full");
    CHECK(rig.backup->committed_epoch() == 1);
    CHECK(rig.image.page(0)[0] == 1);
}

// A session's first epoch goes straight into the image (nothing committed to protect, and a
// guest-sized staging copy would keep a backup off the link): deltas against zero, pages it does
// not send zero at its end, nothing committed until then; reset() does not clear the image.
TEST_CASE("backup image: the first epoch of a session is written in place; unsent pages are zero at commit") {
    ckpt::BackupRig rig(kPages, 1);  // one staging slot: the first epoch must not need staging
    auto page = [&](std::uint64_t p) { return Bytes(rig.image.page(p).begin(), rig.image.page(p).end()); };
    for (std::uint64_t p = 0; p < kPages; ++p) std::fill(rig.image.page(p).begin(), rig.image.page(p).end(), 0xee);
    Bytes runs(kPage, 0);
    Bytes target(kPage, 0);
    target[10] = 0x42;
    std::size_t n = encode_delta(Bytes(kPage, 0), target, runs, kPage);
    REQUIRE(n != 0);
    runs.resize(n);
    StreamBuilder b;
    with_cpu(b.begin(3, kRam).full(1 * kPage, Bytes(kPage, 0x11)).delta(2 * kPage, runs).zero(3 * kPage)).end();
    Bytes partial(b.bytes.begin(), b.bytes.end() - 64);
    rig.backup->reset();
    REQUIRE(err(rig.feed(partial)) == "");
    CHECK_FALSE(rig.backup->has_committed());
    CHECK(rig.image.page(1)[0] == 0x11);  // in place already
    REQUIRE(err(rig.feed({b.bytes.end() - 64, b.bytes.end()})) == "");
    REQUIRE(rig.backup->has_committed());
    CHECK(page(1) == Bytes(kPage, 0x11));
    CHECK(page(2) == target);  // the delta applied to zero, not to the old 0xee
    for (std::uint64_t p : {0u, 3u, 4u, 5u, 6u, 7u}) CHECK(page(p) == Bytes(kPage, 0));
    // Later epochs are staged and applied whole again.
    StreamBuilder next;
    next.begin(4, kRam).full(5 * kPage, Bytes(kPage, 0x55));
    REQUIRE(err(rig.feed(next.bytes)) == "");
    CHECK(page(5) == Bytes(kPage, 0));  // staged, not applied
    rig.backup->abandon_epoch();
    CHECK(page(5) == Bytes(kPage, 0));
    // reset(): a new session; its first epoch is in place again.
    rig.backup->reset();
    rig.decoder->reset();
    CHECK_FALSE(rig.backup->has_committed());
    StreamBuilder again;
    with_cpu(again.begin(1, kRam).full(6 * kPage, Bytes(kPage, 0x66))).end();
    REQUIRE(err(rig.feed(again.bytes)) == "");
    CHECK(rig.backup->committed_epoch() == 1);
    CHECK(page(6) == Bytes(kPage, 0x66));
    CHECK(page(1) == Bytes(kPage, 0));
}

// Zeroing what a session's first epoch did not send is as long as a large apply (most of a fresh
// guest is zero): the link's heartbeat runs from inside it too.
TEST_CASE("backup image: zeroing the pages a first epoch did not send keeps the link alive") {
    struct Counting final : tandem::engine::Keepalive {
        void keepalive() override { ++calls; }
        unsigned calls = 0;
    };
    constexpr std::uint64_t kBig = 1024;
    ckpt::BackupRig rig(kBig, 1);
    Counting counting;
    rig.backup->set_keepalive(&counting);
    rig.backup->reset();
    StreamBuilder b;
    with_cpu(b.begin(1, kBig * kPage).full(0, Bytes(kPage, 0x11))).end();
    REQUIRE(err(rig.feed(b.bytes)) == "");
    REQUIRE(rig.backup->has_committed());
    CHECK(counting.calls == (kBig - 1) / tandem::engine::kKeepaliveEvery);  // 1023 pages zeroed
    CHECK(rig.image.page(kBig - 1)[0] == 0);
}

TEST_CASE("backup image: direct use (record kinds, sizes, abandon)") {
    ckpt::BackupRig rig(kPages);
    BackupImage& image = *rig.backup;
    Bytes page(kPage, 5);
    CHECK(err(image.end_epoch(1, 0)) == "checkpoint: EPOCH_END for an epoch that did not begin");
    REQUIRE(err(image.begin_epoch(1, kRam, kPageSize)) == "");
    CHECK(err(image.stage_page(RecordType::cpu_state, 0, page)) == "checkpoint: not a page record");
    CHECK(err(image.stage_page(RecordType::page_full, 0, {page.data(), 100})) == "checkpoint: full page of the wrong size");
    REQUIRE(err(image.stage_page(RecordType::page_full, 0, page)) == "");
    image.abandon_epoch();
    CHECK_FALSE(image.in_epoch());
    CHECK(err(image.stage_page(RecordType::page_full, 0, page)) == "checkpoint: page outside an epoch");
    REQUIRE(err(image.begin_epoch(1, kRam, kPageSize)) == "");
    REQUIRE(err(image.stage_page(RecordType::page_full, 0, page)) == "");  // not "sent twice": the bit was dropped
    CHECK(err(image.end_epoch(1, 1)) == "checkpoint: epoch without CPU state");
    CHECK_FALSE(image.has_committed());
}
