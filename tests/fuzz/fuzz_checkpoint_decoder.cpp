// libFuzzer: the checkpoint stream decoder (replication/checkpoint/decoder.hpp) on arbitrary bytes
// fed in fuzzer-chosen pieces to a small BackupImage (fuzz_checkpoint_harness.hpp describes the
// input). After a rejection the decoder must refuse input until reset(); the harness then resets
// and feeds on, so later epochs in the input are explored too. Invariants checked after every
// piece: nothing committed changes unless an epoch was applied (image, CPU state, devices: the
// atomicity of DESIGN §3 step 6); applied epochs have strictly increasing numbers; no epoch is
// left half-open after a failure; a committed CPU state re-encodes to itself. And an oracle: a
// shadow that only frames records (type, length) and applies each EPOCH_END the decoder accepted
// to its own copy of the image must agree with the backup on memory, CPU state and devices.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>
#include <vector>

#include "hypervisor/util/byte_stream.hpp"
#include "hypervisor/util/bytes.hpp"
#include "replication/checkpoint/delta_codec.hpp"
#include "tests/fuzz/fuzz_checkpoint_harness.hpp"

using namespace tandem::checkpoint;

namespace {

struct Committed {
    bool has = false;
    std::uint64_t epoch = 0;
    std::uint64_t cpu_digest = 0;
    std::vector<std::uint8_t> image;
    std::vector<std::uint8_t> devices;  // id, version, size and bytes of each, concatenated
};

Committed committed_of(fuzz::CheckpointBackup& b) {
    Committed c;
    c.has = b.backup->has_committed();
    c.epoch = b.backup->committed_epoch();
    c.cpu_digest = b.backup->committed_cpu().digest();
    c.image.assign(b.image_bytes, b.image_bytes + fuzz::kCheckpointRam);
    for (const DeviceStateBlob& d : b.backup->committed_devices()) {
        if (d.size > kDeviceStateMaxPayload - 4) std::abort();
        for (std::uint16_t v : {d.id, d.version, d.size}) {
            c.devices.push_back(static_cast<std::uint8_t>(v));
            c.devices.push_back(static_cast<std::uint8_t>(v >> 8));
        }
        c.devices.insert(c.devices.end(), d.bytes, d.bytes + d.size);
    }
    return c;
}

// With nothing committed the image is no one's state yet: a session's first epoch is written in
// place (backup_image.hpp), so only what is committed must stay unchanged.
bool same(const Committed& a, const Committed& b) {
    return a.has == b.has && a.epoch == b.epoch && a.cpu_digest == b.cpu_digest && (!a.has || a.image == b.image) &&
           a.devices == b.devices;
}

// The committed CPU state encodes and decodes back to the same state.
void check_cpu_round_trip(const CpuState& cpu) {
    static std::uint8_t buffer[kCpuStateMaxPayload];
    static CpuState copy;
    tandem::ByteWriter w({buffer, sizeof(buffer)});
    cpu.encode(w);
    if (w.overflow() || !copy.decode(w.written()) || copy.digest() != cpu.digest()) std::abort();
}

using Bytes = std::vector<std::uint8_t>;

// Frames the stream as the format says and remembers, per EPOCH_END, the epoch's records.
struct Shadow {
    struct Epoch {
        std::vector<Bytes> pages;  // whole records: type byte, gpa, data
        Bytes cpu;
        std::vector<Bytes> devices;
    };
    void restart() {
        record.clear();
        pending = {};
        ended.clear();
    }
    void feed(std::span<const std::uint8_t> bytes) {
        for (std::uint8_t b : bytes) {
            record.push_back(b);
            if (record.size() < kRecordHeader) continue;
            std::size_t length = tandem::load_le<std::uint32_t>(record, 4);
            if (record.size() < kRecordHeader + length) continue;
            Bytes payload(record.begin() + kRecordHeader, record.end());
            switch (record[0]) {
                case 1: pending = {}; break;
                case 2: case 3: case 4: payload.insert(payload.begin(), record[0]); pending.pages.push_back(payload); break;
                case 5: pending.cpu = payload; break;
                case 6: pending.devices.push_back(payload); break;
                case 7: ended.push_back(pending); break;
                default: break;
            }
            record.clear();
        }
    }
    // Applies an accepted epoch to the shadow's own image and state.
    void apply(const Epoch& e) {
        for (const Bytes& p : e.pages) {
            std::uint64_t gpa = tandem::load_le<std::uint64_t>(p, 1);
            if (gpa >= fuzz::kCheckpointRam) std::abort();
            std::span<std::uint8_t> page(image.data() + gpa, kPageSize);
            std::span<const std::uint8_t> data(p.data() + 9, p.size() - 9);
            if (p[0] == 2) std::copy(data.begin(), data.end(), page.begin());
            if (p[0] == 3) std::fill(page.begin(), page.end(), 0);
            if (p[0] == 4 && !apply_delta(data, page)) std::abort();  // accepted, so it applies
        }
        if (!cpu.decode(e.cpu)) std::abort();
        devices.clear();
        for (const Bytes& d : e.devices) devices.insert(devices.end(), d.begin(), d.end());
    }

    Bytes record;
    Epoch pending;
    std::vector<Epoch> ended;
    Bytes image = Bytes(fuzz::kCheckpointRam, 0);
    CpuState cpu;
    Bytes devices;  // id, version, bytes of each, concatenated
};

Bytes devices_of(fuzz::CheckpointBackup& b) {
    Bytes out;
    for (const DeviceStateBlob& d : b.backup->committed_devices()) {
        for (std::uint16_t v : {d.id, d.version}) {
            out.push_back(static_cast<std::uint8_t>(v));
            out.push_back(static_cast<std::uint8_t>(v >> 8));
        }
        out.insert(out.end(), d.bytes, d.bytes + d.size);
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < fuzz::kCheckpointPrefix) return 0;
    auto b = std::make_unique<fuzz::CheckpointBackup>();
    std::span<const std::uint8_t> stream(data + fuzz::kCheckpointPrefix, size - fuzz::kCheckpointPrefix);
    std::uint32_t rng = data[0];
    std::size_t max_piece = std::size_t{1} << (data[1] % 16);
    // At most about 64 pieces, so the per-piece checks (copies of the image) stay cheap.
    std::size_t min_piece = stream.size() / 64 + 1;
    static Shadow* shadow = new Shadow();
    shadow->restart();
    shadow->image.assign(fuzz::kCheckpointRam, 0);
    shadow->cpu.clear();
    shadow->devices.clear();
    Committed before = committed_of(*b);
    for (std::size_t pos = 0; pos < stream.size();) {
        std::size_t n = stream.size() - pos;
        if (data[0] != 0) {
            rng = rng * 1103515245u + 12345u;
            n = std::min(n, std::max(min_piece, 1 + (rng >> 8) % max_piece));
        }
        std::uint64_t applied = b->decoder->epochs_applied();
        tandem::Status s = b->decoder->feed(stream.subspan(pos, n));
        shadow->feed(stream.subspan(pos, n));
        pos += n;
        Committed after = committed_of(*b);
        if (b->decoder->epochs_applied() == applied) {
            if (!same(before, after)) std::abort();  // a partial epoch was applied
        } else {
            if (!after.has || (before.has && after.epoch <= before.epoch)) std::abort();
            check_cpu_round_trip(b->backup->committed_cpu());
            std::uint64_t k = b->decoder->epochs_applied() - applied;
            if (shadow->ended.size() < k) std::abort();
            for (std::uint64_t i = 0; i < k; ++i) shadow->apply(shadow->ended[i]);
            if (shadow->image != after.image || shadow->cpu.digest() != after.cpu_digest) std::abort();
            if (shadow->devices != devices_of(*b)) std::abort();
        }
        // Every EPOCH_END the decoder saw was either applied or made it fail.
        if (!b->decoder->failed() && shadow->ended.size() != b->decoder->epochs_applied() - applied) std::abort();
        shadow->ended.clear();
        if (s.ok() != !b->decoder->failed()) std::abort();
        if (!s.ok()) {
            if (s.error().message == nullptr || s.error().message[0] == '\0') std::abort();
            if (b->backup->in_epoch()) std::abort();
            std::uint8_t probe = 1;
            if (b->decoder->feed({&probe, 1}).ok()) std::abort();  // refuses until reset()
            if (!same(after, committed_of(*b))) std::abort();
            b->decoder->reset();
            shadow->restart();
            if (b->decoder->failed() || b->backup->in_epoch()) std::abort();
        }
        before = after;
    }
    return 0;
}
