// libFuzzer: the lockstep output comparator (replication/lockstep/output_comparator.hpp) driven by
// a program of operations: TCP segments of two flows cut anywhere out of one true byte stream
// (SYN at its start, FIN at its end), acknowledgements alone, UDP datagrams, raw guest bytes,
// each from the primary or the backup (of this generation or the last), time passing, checkpoints
// and a NIC that refuses. Checked, beyond ASan/UBSan:
//   - only the primary's frames reach the client, each at most once, each flow's in the order
//     the primary sent them; after a final checkpoint and an idle NIC every accepted frame has
//     left (nothing is lost), and the comparator holds nothing;
//   - in an honest program (the backup's segments carry the true bytes) no mismatch is reported.
// Input: u8 honest (bit 0), then operations of u8 kind + fields (fuzz::Input: zeros past the end).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "replication/lockstep/output_comparator.hpp"
#include "tests/fuzz/fuzz_input.hpp"
#include "tests/unit/lockstep_frames.hpp"

namespace {

using tandem::lockstep::Divergence;
using tandem::lockstep::OutputComparator;
using Frame = std::vector<std::uint8_t>;

[[noreturn]] void fail(int line = __builtin_LINE()) {
    std::fprintf(stderr, "%s:%d: check failed\n", __FILE__, line);
    __builtin_trap();
}
void check(bool ok, int line = __builtin_LINE()) {
    if (!ok) fail(line);
}

constexpr std::uint32_t kIsn = 0xfffffff0;  // the streams cross the 2^32 wrap
constexpr unsigned kStreamLength = 96;       // data bytes before the FIN
constexpr std::uint64_t kWait = 1000;

using Nic = lockstep_test::RecordingNic;

char truth(std::uint16_t port, unsigned offset) { return static_cast<char>('a' + (offset * 7 + port) % 26); }

// A segment of flow `port`'s stream: from data offset `from` (0: the SYN alone), `length` bytes,
// the FIN when it reaches the end. A dishonest program may flip one byte.
lockstep_test::Segment segment(std::uint16_t port, unsigned from, unsigned length, std::string& payload) {
    from %= kStreamLength + 1;
    if (from + length > kStreamLength) length = kStreamLength - from;
    if (from == 0) length = 0;  // a SYN carries no data (with TCP Fast Open's, segmentation must agree)
    payload.clear();
    for (unsigned i = 0; i < length; ++i) payload.push_back(truth(port, from + i));
    lockstep_test::Segment s;
    s.source_port = port;
    s.seq = from == 0 ? kIsn : kIsn + 1 + from;
    s.flags = static_cast<std::uint8_t>(0x10 | (from == 0 ? 0x02 : 0) | (from + length == kStreamLength ? 0x01 : 0));
    s.payload = payload;
    return s;
}

struct Run {
    explicit Run(std::size_t slots) : storage(2 * slots * OutputComparator::kSlotSize), comparator(storage, nic, kWait) {}
    Nic nic;
    std::vector<std::uint8_t> storage;
    OutputComparator comparator;
    std::uint64_t now = 1;
    std::uint16_t next_id = 1;             // IP ID: names each primary frame (backup frames: 0x8000 and up)
    std::vector<Frame> accepted;           // the primary's frames the comparator took
    unsigned datagrams[2][2] = {};         // datagrams sent per side and flow
    using FlowTuple = std::tuple<std::uint32_t, std::uint32_t, std::uint8_t, std::uint16_t, std::uint16_t>;
    std::map<FlowTuple, std::uint16_t> last_id_of_flow;  // for the per-flow order check
};

std::uint16_t id_of(const Frame& f) { return static_cast<std::uint16_t>(f[18] << 8 | f[19]); }

bool from_primary(Run& r, Frame frame) {
    if (!r.comparator.primary_output(frame, r.now)) return false;  // the guest would send it again
    r.accepted.push_back(std::move(frame));
    return true;
}

void step(Run& r, fuzz::Input& in, bool honest) {
    unsigned kind = in.pick(8);
    bool backup = in.flag();
    std::uint16_t port = in.flag() ? 80 : 443;
    std::uint16_t id = backup ? static_cast<std::uint16_t>(0x8000 | (r.next_id & 0x7fff)) : r.next_id++;
    std::string payload;
    Frame frame;
    if (kind <= 2) {  // a TCP segment of the true stream
        auto s = segment(port, in.u8(), in.u8() % 48, payload);
        s.ip_id = id;
        s.option_words = static_cast<std::uint8_t>(in.u8() % 3);
        if (!honest && backup && !payload.empty() && in.flag()) payload[in.u8() % payload.size()] ^= 0x20;
        frame = lockstep_test::tcp(s);
    } else if (kind == 3) {  // an acknowledgement alone
        frame = lockstep_test::tcp({.seq = kIsn + 1, .ack = 1000u + in.u8(), .source_port = port, .ip_id = id});
    } else if (kind == 4) {  // the next datagram of this side's flow (a dishonest one may differ)
        unsigned& n = r.datagrams[backup][port == 80];
        payload = std::string(1 + n % 8, truth(port, n));
        ++n;
        if (!honest && in.flag()) payload[0] = '#';
        frame = lockstep_test::udp(payload, {.source_port = port, .ip_id = id});
    } else if (kind == 5) {  // raw bytes from the guest; an honest program keeps them off IPv4
        auto raw = in.bytes(in.u8() % 80);
        frame.assign(raw.begin(), raw.end());
        if (frame.size() >= 20) {
            if (honest) frame[12] = 0x88, frame[13] = 0xb5;  // IEEE local experimental EtherType
            frame[18] = static_cast<std::uint8_t>(id >> 8), frame[19] = static_cast<std::uint8_t>(id);
        }
    } else if (kind == 6) {
        r.now += in.u8() * 20;
        r.nic.busy = in.flag();
        r.comparator.poll(r.now);
        return;
    } else {
        if (r.comparator.divergence() != Divergence::none || in.flag()) {
            check(r.comparator.start_generation(r.comparator.generation() + 1));
            if (in.flag()) r.comparator.backup_synced(r.now);
            // After a checkpoint both guests are the same machine: their datagram counts agree.
            for (unsigned p = 0; p < 2; ++p) r.datagrams[1][p] = r.datagrams[0][p];
        }
        return;
    }
    if (!backup) {
        if (!from_primary(r, std::move(frame)) && kind == 4) --r.datagrams[0][port == 80];
        return;
    }
    std::uint64_t generation = r.comparator.generation();
    if (generation != 0 && in.pick(4) == 0) {
        --generation;  // late output of the last generation: not part of this one's datagrams
        if (kind == 4) --r.datagrams[1][port == 80];
    }
    r.comparator.backup_output(frame, generation, r.now);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::Input in(data, size);
    std::uint8_t setup = in.u8();
    bool honest = (setup & 1) != 0;
    Run r(4 + (setup >> 1) % 12);
    for (unsigned n = 0; n < 400 && !in.empty(); ++n) {
        step(r, in, honest);
        if (honest) check(r.comparator.divergence() != Divergence::mismatch);
    }
    r.nic.busy = false;
    check(r.comparator.start_generation(r.comparator.generation() + 1));
    r.comparator.poll(r.now);
    check(r.comparator.primary_waiting() == 0 && r.comparator.backup_waiting() == 0);

    // The client got exactly the accepted primary frames (IP IDs below 0x8000 name them), each
    // once, a flow's in the order the primary sent them.
    check(r.nic.sent.size() == r.accepted.size());
    std::map<std::uint16_t, const Frame*> by_id;
    for (const Frame& f : r.accepted) by_id[f.size() >= 20 ? id_of(f) : 0] = &f;
    std::map<std::uint16_t, bool> seen;
    for (const Frame& f : r.nic.sent) {
        if (f.size() < 20) continue;  // short raw frames carry no name; counted above
        std::uint16_t id = id_of(f);
        check(id < 0x8000 && !seen[id]);
        seen[id] = true;
        auto it = by_id.find(id);
        check(it != by_id.end() && *it->second == f);
        auto parsed = tandem::lockstep::classify_output_frame(f);
        if (parsed.kind != tandem::lockstep::FrameKind::uncompared) {  // a compared flow: its order kept
            std::uint16_t& last = r.last_id_of_flow[{parsed.flow.source_ip, parsed.flow.destination_ip, parsed.flow.protocol,
                                                          parsed.flow.source_port, parsed.flow.destination_port}];
            check(id > last);
            last = id;
        }
    }
    return 0;
}
