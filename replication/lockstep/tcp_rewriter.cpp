#include "replication/lockstep/tcp_rewriter.hpp"

#include "hypervisor/util/bytes.hpp"
#include "replication/lockstep/output_frame.hpp"

namespace tandem::lockstep {
namespace {

constexpr std::size_t kSeq = 4, kAck = 8, kChecksum = 16, kOptions = 20;
constexpr std::uint8_t kOptionEnd = 0, kOptionNop = 1, kOptionSack = 5;

// Replaces the 32-bit field at `at` of the TCP segment at `tcp` and keeps its checksum right.
void rewrite32(std::span<std::uint8_t> frame, std::size_t tcp, std::size_t at, std::uint32_t value) {
    std::uint32_t before = load_be<std::uint32_t>(frame, at);
    store_be<std::uint32_t>(frame, at, value);
    std::uint16_t checksum = load_be<std::uint16_t>(frame, tcp + kChecksum);
    store_be<std::uint16_t>(frame, tcp + kChecksum, checksum_after_change(checksum, before, value));
}

// Moves every SACK block edge (RFC 2018 §3) by -offset. Options are walked with every length
// checked against the header; a malformed list is left alone from where it breaks.
void rewrite_sack(std::span<std::uint8_t> frame, std::size_t tcp, std::size_t header_end, std::uint32_t offset) {
    std::size_t at = tcp + kOptions;
    while (at < header_end) {
        std::uint8_t kind = frame[at];
        if (kind == kOptionEnd) return;
        if (kind == kOptionNop) {
            ++at;
            continue;
        }
        if (at + 1 >= header_end) return;
        std::size_t length = frame[at + 1];
        if (length < 2 || !fits(header_end, at, length)) return;
        if (kind == kOptionSack && (length - 2) % 8 == 0) {
            for (std::size_t edge = at + 2; edge < at + length; edge += 4) {
                rewrite32(frame, tcp, edge, load_be<std::uint32_t>(frame, edge) - offset);
            }
        }
        at += length;
    }
}

}  // namespace

std::uint16_t checksum_after_change(std::uint16_t checksum, std::uint32_t before, std::uint32_t after) {
    // HC' = ~(~HC + ~m + m'), one's-complement sums over the two 16-bit halves of the field.
    std::uint32_t sum = static_cast<std::uint16_t>(~checksum);
    sum += static_cast<std::uint16_t>(~(before >> 16)) + static_cast<std::uint16_t>(~before);
    sum += (after >> 16) + (after & 0xffff);
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<std::uint16_t>(~sum);
}

TcpSequenceRewriter::Connection* TcpSequenceRewriter::find(std::uint32_t guest_ip, std::uint16_t guest_port,
                                                           std::uint32_t client_ip, std::uint16_t client_port,
                                                           bool create) {
    Connection* free = nullptr;
    Connection* closed = nullptr;
    for (Connection& c : table_) {
        if (c.used && c.guest_ip == guest_ip && c.guest_port == guest_port && c.client_ip == client_ip &&
            c.client_port == client_port) {
            return &c;
        }
        if (!c.used && free == nullptr) free = &c;
        if (c.used && c.guest_fin && c.client_fin && closed == nullptr) closed = &c;
    }
    if (!create) return nullptr;
    if (free == nullptr) free = closed;  // a connection closed both ways makes room
    if (free == nullptr) {
        ++stats_.table_full;
        return nullptr;
    }
    *free = {guest_ip, client_ip, guest_port, client_port, true, false, false, false, false, 0, 0};
    return free;
}

void TcpSequenceRewriter::end(Connection& c) {
    c = {};
    ++stats_.ended;
}

// A reset ends the connection at once; a FIN closes one direction (the entry stays until both
// are closed and its room is needed: the last FIN's acknowledgement still needs rewriting).
void TcpSequenceRewriter::note_close(Connection& c, std::uint8_t flags, bool from_guest) {
    if (flags & tcp_flag::rst) {
        end(c);
    } else if (flags & tcp_flag::fin) {
        (from_guest ? c.guest_fin : c.client_fin) = true;
    }
}

Rewrite TcpSequenceRewriter::outgoing(std::span<std::uint8_t> frame) {
    OutputFrame f = classify_output_frame(frame);
    if (f.kind != FrameKind::tcp) return Rewrite::unchanged;
    // Only connections opened since the checkpoint differ: a SYN from the guest starts one.
    Connection* c = find(f.flow.source_ip, f.flow.source_port, f.flow.destination_ip, f.flow.destination_port,
                         f.has(tcp_flag::syn));
    if (c == nullptr) return Rewrite::unchanged;
    if (f.has(tcp_flag::syn) && c->guest_fin && c->client_fin) {
        // The same addresses and ports again after a close both ways: a new connection, a new ISN.
        *c = {c->guest_ip, c->client_ip, c->guest_port, c->client_port, true, false, false, false, false, 0, 0};
    }
    Rewrite result = Rewrite::unchanged;
    if (c->has_offset) {
        if (c->offset != 0) {
            rewrite32(frame, f.transport_offset, f.transport_offset + kSeq, f.seq + c->offset);
            ++stats_.rewritten_out;
            result = Rewrite::rewritten;
        }
    } else if (f.has(tcp_flag::syn)) {
        c->backup_isn = f.seq;  // the comparator matches a SYN by its flags; the numbers follow
        c->has_isn = true;
    } else {
        ++stats_.unknown;
        result = Rewrite::unknown;
    }
    note_close(*c, f.tcp_flags, true);
    return result;
}

Rewrite TcpSequenceRewriter::incoming(std::span<std::uint8_t> frame) {
    OutputFrame f = classify_output_frame(frame);
    if (f.kind != FrameKind::tcp) return Rewrite::unchanged;
    Connection* c = find(f.flow.destination_ip, f.flow.destination_port, f.flow.source_ip, f.flow.source_port, false);
    if (c == nullptr) return Rewrite::unchanged;
    if (!c->has_offset && c->has_isn && f.has(tcp_flag::ack)) {
        // The client's first acknowledgement acknowledges the primary's SYN: its ISN + 1.
        c->offset = (f.ack - 1) - c->backup_isn;
        c->has_offset = true;
        ++stats_.learned;
    }
    Rewrite result = Rewrite::unchanged;
    if (c->has_offset && c->offset != 0) {
        if (f.has(tcp_flag::ack)) rewrite32(frame, f.transport_offset, f.transport_offset + kAck, f.ack - c->offset);
        rewrite_sack(frame, f.transport_offset, f.payload_offset, c->offset);
        ++stats_.rewritten_in;
        result = Rewrite::rewritten;
    }
    note_close(*c, f.tcp_flags, false);
    return result;
}

void TcpSequenceRewriter::reset() {
    for (Connection& c : table_) c = {};
}

std::size_t TcpSequenceRewriter::connections() const {
    std::size_t n = 0;
    for (const Connection& c : table_) n += c.used;
    return n;
}

}  // namespace tandem::lockstep
