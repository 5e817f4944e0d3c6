// The checkpoint stream end to end on the host: EpochEncoder -> bytes in pieces of any size ->
// StreamDecoder -> BackupImage. After every EPOCH_END the backup's image, CPU state and device
// states equal the source's; a truncated or corrupted epoch is never applied (DESIGN §3 step 6).
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "ckpt_memory.hpp"
#include "replication/checkpoint/stream_digest.hpp"
#include "hypervisor/util/bytes.hpp"
#include "hypervisor/util/fnv.hpp"
#include "replication/checkpoint/delta_codec.hpp"

using namespace tandem::checkpoint;
using ckpt::Bytes;
using ckpt::err;
using ckpt::kPage;

namespace {

struct Device {
    std::uint16_t id, version;
    Bytes state;
};

// The primary's side: guest memory, the reference copy (what the backup holds), CPU and devices.
struct Source {
    explicit Source(std::uint64_t pages) : guest(pages), reference(pages * kPage, 0) {}

    Bytes encode(std::uint64_t epoch, const std::vector<std::uint64_t>& pages, bool deltas, EncoderStats* stats = nullptr) {
        ckpt::VectorSink sink;
        auto encoder = std::make_unique<EpochEncoder>(sink);
        REQUIRE(err(encoder->begin(epoch, guest.memory().size())) == "");
        for (std::uint64_t p : pages) {
            REQUIRE(err(encoder->page(p * kPage, guest.page(p), {reference.data() + p * kPage, kPage}, deltas)) == "");
        }
        REQUIRE(err(encoder->cpu(cpu)) == "");
        for (const Device& d : devices) REQUIRE(err(encoder->device(d.id, d.version, d.state)) == "");
        REQUIRE(err(encoder->end()) == "");
        CHECK(encoder->stats().bytes == sink.data.size());
        if (stats != nullptr) *stats = encoder->stats();
        return sink.data;
    }

    // Changes k distinct random pages (zeroed, rewritten, a few bytes changed, or written with
    // the same content) and returns them in random order.
    std::vector<std::uint64_t> mutate(ckpt::Rng& rng, std::uint64_t k) {
        std::vector<std::uint64_t> all(guest.pages());
        std::iota(all.begin(), all.end(), 0);
        std::shuffle(all.begin(), all.end(), rng);
        all.resize(k);
        for (std::uint64_t p : all) {
            auto page = guest.page(p);
            switch (ckpt::below(rng, 4)) {
                case 0: std::fill(page.begin(), page.end(), 0); break;
                case 1: ckpt::fill_random(page, rng); break;
                case 2: ckpt::change_bytes(page, rng, 1 + ckpt::below(rng, 40)); break;
                default: break;  // written, but with what it held
            }
        }
        return all;
    }

    void random_state(ckpt::Rng& rng) {
        ckpt::random_cpu(cpu, rng, 1 + ckpt::below(rng, CpuState::kMaxFields), ckpt::below(rng, 3) ? ckpt::below(rng, 1500) : 0);
        devices.clear();
        for (std::uint16_t i = 0, n = static_cast<std::uint16_t>(ckpt::below(rng, BackupImage::kMaxDevices + 1)); i < n; ++i) {
            Device d{static_cast<std::uint16_t>(100 + i * 7), static_cast<std::uint16_t>(rng()), Bytes(ckpt::below(rng, 1025))};
            ckpt::fill_random(d.state, rng);
            devices.push_back(d);
        }
    }

    std::uint64_t zero_pages(const std::vector<std::uint64_t>& pages) {
        return static_cast<std::uint64_t>(std::count_if(pages.begin(), pages.end(), [&](std::uint64_t p) {
            auto page = guest.page(p);
            return std::all_of(page.begin(), page.end(), [](std::uint8_t b) { return b == 0; });
        }));
    }

    ckpt::TestGuest guest;
    Bytes reference;
    CpuState cpu;
    std::vector<Device> devices;
};

// The backup equals the source: image, CPU state field by field, devices.
void check_backup_equals(ckpt::BackupRig& rig, Source& src, std::uint64_t epoch) {
    CHECK_FALSE(rig.decoder->failed());
    REQUIRE(rig.backup->has_committed());
    CHECK(rig.backup->committed_epoch() == epoch);
    CHECK_FALSE(rig.backup->in_epoch());
    CHECK(rig.image.snapshot() == src.guest.snapshot());
    CHECK(src.reference == src.guest.snapshot());
    ckpt::check_same_cpu(rig.backup->committed_cpu(), src.cpu);
    auto devices = rig.backup->committed_devices();
    REQUIRE(devices.size() == src.devices.size());
    for (std::size_t i = 0; i < devices.size(); ++i) {
        CHECK(devices[i].id == src.devices[i].id);
        CHECK(devices[i].version == src.devices[i].version);
        CHECK(Bytes(devices[i].bytes, devices[i].bytes + devices[i].size) == src.devices[i].state);
    }
}

struct RecordAt {
    std::size_t offset;
    std::uint8_t type;
    std::size_t length;
};
std::vector<RecordAt> records_of(const Bytes& s) {
    std::vector<RecordAt> out;
    for (std::size_t at = 0; at < s.size();) {
        std::size_t length = tandem::load_le<std::uint32_t>(s, at + 4);
        out.push_back({at, s[at], length});
        at += kRecordHeader + length;
    }
    return out;
}

std::vector<std::uint64_t> all_pages(std::uint64_t n) {
    std::vector<std::uint64_t> v(n);
    std::iota(v.begin(), v.end(), 0);
    return v;
}

// Source and backup with epochs 0 (every page) and 1 committed.
struct TwoEpochs {
    explicit TwoEpochs(std::uint64_t pages) : src(std::make_unique<Source>(pages)), rig(pages) {
        ckpt::Rng rng(pages);
        src->mutate(rng, pages);
        src->random_state(rng);
        REQUIRE(err(rig.feed(src->encode(0, all_pages(pages), true))) == "");
        auto changed = src->mutate(rng, pages / 3);
        src->random_state(rng);
        REQUIRE(err(rig.feed(src->encode(1, changed, true))) == "");
        check_backup_equals(rig, *src, 1);
        image = rig.image.snapshot();
    }
    // Nothing of the committed epoch 1 changed.
    void check_epoch1_intact(const CpuState& cpu1) {
        CHECK(rig.backup->committed_epoch() == 1);
        CHECK(rig.image.snapshot() == image);
        CHECK(rig.backup->committed_cpu().digest() == cpu1.digest());
    }
    std::unique_ptr<Source> src;
    ckpt::BackupRig rig;
    Bytes image;
};

}  // namespace

TEST_CASE("checkpoint stream: random epochs round trip, fed in random pieces") {
    constexpr std::uint64_t kPages = 40;
    ckpt::Rng rng(0xc4ec);
    auto src = std::make_unique<Source>(kPages);
    ckpt::BackupRig rig(kPages);
    std::uint64_t deltas = 0, zeros = 0;
    for (std::uint64_t epoch = 0; epoch < 40; ++epoch) {
        CAPTURE(epoch);
        auto pages = src->mutate(rng, epoch == 0 ? kPages : ckpt::below(rng, kPages + 1));
        if (epoch == 0) pages = all_pages(kPages);
        src->random_state(rng);
        bool use_deltas = epoch % 5 != 3;
        EncoderStats stats;
        Bytes stream = src->encode(epoch * 3 + 5, pages, use_deltas, &stats);
        CHECK(stats.pages_zero == src->zero_pages(pages));
        CHECK(stats.pages_zero + stats.pages_full + stats.pages_delta == pages.size());
        CHECK(stats.records == pages.size() + src->devices.size() + 3);
        if (!use_deltas) CHECK(stats.pages_delta == 0);
        deltas += stats.pages_delta;
        zeros += stats.pages_zero;
        std::size_t max_chunk = std::array<std::size_t, 5>{1, 7, 100, 5000, 0}[epoch % 5];
        std::uint64_t applied = rig.decoder->epochs_applied();
        REQUIRE(err(rig.feed_chunked(stream, rng, max_chunk)) == "");
        CHECK(rig.decoder->epochs_applied() == applied + 1);
        check_backup_equals(rig, *src, epoch * 3 + 5);
    }
    CHECK(deltas > 40);  // every kind of page went through
    CHECK(zeros > 40);
}

TEST_CASE("checkpoint stream: several epochs in one piece are applied in order") {
    ckpt::Rng rng(17);
    auto src = std::make_unique<Source>(16);
    ckpt::BackupRig rig(16);
    src->mutate(rng, 16);
    Bytes all = src->encode(1, all_pages(16), true);
    for (std::uint64_t epoch = 2; epoch <= 4; ++epoch) {
        Bytes more = src->encode(epoch, src->mutate(rng, 5), true);
        all.insert(all.end(), more.begin(), more.end());
    }
    REQUIRE(err(rig.feed(all)) == "");
    CHECK(rig.decoder->epochs_applied() == 4);
    CHECK(rig.decoder->records() == records_of(all).size());
    check_backup_equals(rig, *src, 4);
}

TEST_CASE("checkpoint stream: the encoder's records (layout, counts, digest, reference update)") {
    auto src = std::make_unique<Source>(4);
    ckpt::Rng rng(2);
    ckpt::fill_random(src->guest.page(1), rng);  // page 1: random against a zero reference -> whole
    Bytes r(kPage);                               // page 2: one byte away from its reference -> delta
    ckpt::fill_random(r, rng);
    std::copy(r.begin(), r.end(), src->reference.begin() + 2 * kPage);
    std::copy(r.begin(), r.end(), src->guest.page(2).begin());
    src->guest.page(2)[100] ^= 1;
    src->devices = {{1, 3, {0xaa, 0xbb}}};
    EncoderStats stats;
    Bytes s = src->encode(7, {0, 1, 2}, true, &stats);
    auto recs = records_of(s);
    REQUIRE(recs.size() == 7);
    std::vector<std::uint8_t> types;
    for (auto& rec : recs) types.push_back(rec.type);
    CHECK(types == std::vector<std::uint8_t>{1, 3, 2, 4, 5, 6, 7});
    CHECK(recs[0].length == kEpochBeginPayload);
    CHECK(tandem::load_le<std::uint32_t>(s, 8) == kFormatVersion);
    CHECK(tandem::load_le<std::uint64_t>(s, 12) == 7);
    CHECK(tandem::load_le<std::uint64_t>(s, 20) == 4 * kPage);
    CHECK(tandem::load_le<std::uint32_t>(s, 28) == kPageSize);
    CHECK(recs[1].length == 8);
    CHECK(recs[2].length == kPageFullPayload);
    CHECK(recs[3].length == 8 + 5);  // one run of one byte
    CHECK(tandem::load_le<std::uint64_t>(s, recs[3].offset + 8) == 2 * kPage);
    for (auto& rec : recs) CHECK((s[rec.offset + 1] | s[rec.offset + 2] | s[rec.offset + 3]) == 0);
    std::size_t end = recs[6].offset + kRecordHeader;
    CHECK(tandem::load_le<std::uint64_t>(s, end) == 7);
    CHECK(tandem::load_le<std::uint32_t>(s, end + 8) == 3);
    CHECK(tandem::load_le<std::uint32_t>(s, end + 12) == 7);
    std::uint64_t digest = tandem::kFnv64Offset;  // record by record, every record before EPOCH_END
    for (std::size_t i = 0; i < 6; ++i) {
        digest = tandem::checkpoint::stream_digest(s.data() + recs[i].offset, kRecordHeader + recs[i].length, digest);
    }
    CHECK(tandem::load_le<std::uint64_t>(s, end + 16) == digest);
    CHECK(stats.pages_zero == 1);
    CHECK(stats.pages_full == 1);
    CHECK(stats.pages_delta == 1);
    Bytes now = src->guest.snapshot();
    CHECK(Bytes(src->reference.begin(), src->reference.begin() + 3 * kPage) == Bytes(now.begin(), now.begin() + 3 * kPage));
}

TEST_CASE("checkpoint stream: encoder refusals leave the reference copy alone") {
    ckpt::VectorSink sink;
    auto enc = std::make_unique<EpochEncoder>(sink);
    Bytes page(kPage, 1), reference(kPage, 2);
    REQUIRE(err(enc->begin(1, 2 * kPage)) == "");
    CHECK(err(enc->page(0x800, page, reference, true)) == "checkpoint: bad page for the encoder");
    CHECK(err(enc->page(0, {page.data(), 100}, reference, true)) == "checkpoint: bad page for the encoder");
    CHECK(err(enc->page(0, page, {reference.data(), 100}, true)) == "checkpoint: bad page for the encoder");
    Bytes big(1025);
    CHECK(err(enc->device(1, 1, big)) == "checkpoint: device state too large");
    CHECK(err(enc->device(1, 1, {big.data(), 1024})) == "");
    ckpt::VectorSink broken;
    broken.fail_at = 1;  // the payload of the first page record
    enc->set_sink(broken);
    CHECK(err(enc->page(0, page, reference, true)) == "test sink: link down");
    CHECK(reference == Bytes(kPage, 2));
}

// Regression test (bug found and fixed): encoder.cpp:68 with delta_codec.cpp:49 — a dirty page whose content equals the copy last
// sent (the guest wrote the same bytes, common under PML/D-bit tracking) makes encode_delta return
// 0, which the encoder reads as "delta not worth it" and sends the whole page: 4104 payload bytes
// where a minimal PAGE_DELTA (one 1-byte run, 13 bytes) would do. Expected: not a PAGE_FULL.
TEST_CASE("checkpoint stream: a dirty page that did not change is not sent whole") {
    auto src = std::make_unique<Source>(2);
    ckpt::Rng rng(3);
    ckpt::fill_random(src->guest.page(0), rng);
    std::copy_n(src->guest.page(0).begin(), kPage, src->reference.begin());
    EncoderStats stats;
    Bytes s = src->encode(1, {0}, true, &stats);
    CHECK(stats.pages_full == 0);
    CHECK(s.size() < 1000);
}

TEST_CASE("checkpoint stream: a truncated epoch is never applied, wherever the stream stops") {
    auto two = std::make_unique<TwoEpochs>(24);
    ckpt::Rng rng(99);
    auto cpu1 = std::make_unique<CpuState>(two->src->cpu);
    auto changed = two->src->mutate(rng, 10);
    two->src->random_state(rng);
    Bytes s = two->src->encode(2, changed, true);
    std::vector<std::size_t> cuts;
    for (auto& r : records_of(s)) {
        for (std::size_t d : {std::size_t{0}, std::size_t{1}, std::size_t{4}, std::size_t{8}, std::size_t{9}}) cuts.push_back(r.offset + d);
    }
    for (int i = 0; i < 40; ++i) cuts.push_back(ckpt::below(rng, s.size()));
    cuts.push_back(s.size() - 1);
    for (std::size_t cut : cuts) {
        CAPTURE(cut);
        REQUIRE(err(two->rig.feed_chunked({s.data(), cut}, rng)) == "");
        CHECK_FALSE(two->rig.decoder->failed());
        two->check_epoch1_intact(*cpu1);
        two->rig.decoder->reset();
        CHECK_FALSE(two->rig.backup->in_epoch());
    }
    // Byte by byte up to the last one: still epoch 1.
    for (std::size_t i = 0; i + 1 < s.size(); ++i) REQUIRE(two->rig.feed({s.data() + i, 1}));
    CHECK(two->rig.backup->committed_epoch() == 1);
    two->check_epoch1_intact(*cpu1);
    REQUIRE(err(two->rig.feed({s.data() + s.size() - 1, 1})) == "");
    check_backup_equals(two->rig, *two->src, 2);
}

TEST_CASE("checkpoint stream: a corrupted byte anywhere in an epoch is rejected and never applied") {
    auto two = std::make_unique<TwoEpochs>(12);
    ckpt::Rng rng(0xbad);
    auto cpu1 = std::make_unique<CpuState>(two->src->cpu);
    // Epoch 2: a zero page, a whole page, a delta, a small CPU state, two devices.
    std::fill(two->src->guest.page(3).begin(), two->src->guest.page(3).end(), 0);
    ckpt::fill_random(two->src->guest.page(5), rng);
    ckpt::change_bytes(two->src->guest.page(8), rng, 12);
    ckpt::random_cpu(two->src->cpu, rng, 6, 64);
    two->src->devices = {{1, 1, {1, 2, 3, 4, 5}}, {2, 1, {6, 7}}};
    EncoderStats stats;
    Bytes s = two->src->encode(2, {3, 5, 8}, true, &stats);
    REQUIRE(stats.pages_delta == 1);
    REQUIRE(stats.pages_zero == 1);
    std::size_t failures = 0, positions = 0;
    for (const RecordAt& r : records_of(s)) {
        std::size_t payload = r.offset + kRecordHeader;
        for (std::size_t i = r.offset; i < payload + r.length; ++i) {
            std::size_t in_payload = i - payload;
            // Whole-page data: a sample of positions, the rest everything.
            if (r.type == 2 && i >= payload + 8 && ckpt::below(rng, 64) != 0) continue;
            CAPTURE(i);
            CAPTURE(static_cast<int>(r.type));
            Bytes bad = s;
            bad[i] = static_cast<std::uint8_t>(bad[i] ^ (1 + ckpt::below(rng, 255)));
            std::string e = err(i % 3 ? two->rig.feed(bad) : two->rig.feed_chunked(bad, rng, 300));
            ++positions;
            two->check_epoch1_intact(*cpu1);
            if (!e.empty()) {
                ++failures;
                CHECK((e.rfind("checkpoint: ", 0) == 0 || e.rfind("delta: ", 0) == 0 || e.rfind("cpu state: ", 0) == 0));
                CHECK(two->rig.decoder->failed());
            }
            if (i < payload) {
                if (i - r.offset >= 1 && i - r.offset <= 3) CHECK(e == "checkpoint: reserved header bits set");
            } else if (r.type == 7) {
                const char* expected[] = {"checkpoint: EPOCH_END for an epoch that did not begin",
                                          "checkpoint: EPOCH_END page count differs from the pages received",
                                          "checkpoint: EPOCH_END record count mismatch", "checkpoint: epoch digest mismatch"};
                CHECK(e == expected[in_payload < 8 ? 0 : in_payload < 12 ? 1 : in_payload < 16 ? 2 : 3]);
            } else if (r.type == 2 && in_payload >= 8) {
                CHECK(e == "checkpoint: epoch digest mismatch");
            } else {
                CHECK_FALSE(e.empty());  // every payload byte is checked, by a field check or the digest
            }
            two->rig.decoder->reset();
        }
    }
    CHECK(positions > 300);
    CHECK(failures > positions * 3 / 4);
    // The committed epoch 1 is exactly what it was: the genuine epoch 2 (deltas against it) applies.
    REQUIRE(err(two->rig.feed(s)) == "");
    check_backup_equals(two->rig, *two->src, 2);
}
