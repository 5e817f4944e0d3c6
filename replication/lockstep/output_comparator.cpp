#include "replication/lockstep/output_comparator.hpp"

namespace tandem::lockstep {

std::uint64_t ComparatorStats::lag_percentile_us(unsigned percent) const {
    if (lag_count == 0) return 0;
    std::uint64_t wanted = (lag_count * percent + 99) / 100, seen = 0;
    for (std::size_t i = 0; i < kLagBuckets; ++i) {
        seen += lag_buckets[i];
        if (seen >= wanted) return std::uint64_t{1} << i;
    }
    return std::uint64_t{1} << (kLagBuckets - 1);
}

const char* divergence_name(Divergence divergence) {
    switch (divergence) {
    case Divergence::none: return "none";
    case Divergence::mismatch: return "output differs";
    case Divergence::timeout: return "output unmatched past the wait bound";
    case Divergence::queue_full: return "comparison queue full";
    }
    return "?";
}

// --- the two rings of frames -------------------------------------------------------------------

std::span<const std::uint8_t> OutputComparator::Ring::bytes(std::size_t index) const {
    return storage.subspan(index * kSlotSize, slots[index].length);
}

std::span<const std::uint8_t> OutputComparator::Ring::payload(std::size_t index) const {
    const OutputFrame& f = slots[index].frame;
    return bytes(index).subspan(f.payload_offset, f.payload_length);
}

std::size_t OutputComparator::Ring::push(std::span<const std::uint8_t> frame, const OutputFrame& parsed,
                                         std::uint16_t flow, std::uint64_t now_ns, State state) {
    std::size_t index = at(count);
    __builtin_memcpy(storage.data() + index * kSlotSize, frame.data(), frame.size());
    slots[index] = {parsed, now_ns, static_cast<std::uint16_t>(frame.size()), flow, state};
    ++count;
    return index;
}

void OutputComparator::Ring::trim() {
    while (count != 0 && slots[head].state == State::free) {
        head = (head + 1) % capacity;
        --count;
    }
}

OutputComparator::OutputComparator(std::span<std::uint8_t> storage, virtio::NetBackend& out, std::uint64_t wait_ns)
    : out_(out), wait_ns_(wait_ns) {
    std::size_t per_side = storage.size() / kSlotSize / 2;
    if (per_side > kMaxSlots) per_side = kMaxSlots;
    primary_.capacity = backup_.capacity = per_side;
    primary_.storage = storage.subspan(0, per_side * kSlotSize);
    backup_.storage = storage.subspan(per_side * kSlotSize, per_side * kSlotSize);
}

// --- frames in -------------------------------------------------------------------------------

std::uint16_t OutputComparator::flow_of(const OutputFrame& frame) {
    std::uint16_t free = kNoFlow;
    for (std::uint16_t i = 0; i < kMaxFlows; ++i) {
        if (flows_[i].used && flows_[i].key == frame.flow) return i;
        if (!flows_[i].used && free == kNoFlow) free = i;
    }
    if (free != kNoFlow) flows_[free] = {frame.flow, true, false, false, 0, 0};
    return free;
}

bool OutputComparator::primary_output(std::span<const std::uint8_t> frame, std::uint64_t now_ns) {
    if (frame.size() > kSlotSize) return true;  // cannot happen: virtio-net drops (and counts) larger frames
    primary_.trim();
    if (primary_.count == primary_.capacity) {
        diverge(Divergence::queue_full);
        return false;
    }
    OutputFrame parsed = classify_output_frame(frame);
    if (parsed.kind == FrameKind::uncompared) {
        primary_.push(frame, parsed, kNoFlow, now_ns, State::ready);
        ++stats_.released_uncompared;
        flush();
        return true;
    }
    std::uint16_t flow = flow_of(parsed);
    if (flow == kNoFlow) {
        diverge(Divergence::queue_full);
        return false;
    }
    primary_.push(frame, parsed, flow, now_ns, State::held);
    match(flow, now_ns);
    flush();
    return true;
}

void OutputComparator::backup_output(std::span<const std::uint8_t> frame, std::uint64_t generation,
                                     std::uint64_t now_ns) {
    if (frame.size() > kSlotSize) return;  // cannot happen: the backup's virtio-net drops larger frames
    if (generation != generation_) {
        ++stats_.backup_stale;  // of a generation a checkpoint has since replaced
        return;
    }
    ++stats_.backup_frames;
    OutputFrame parsed = classify_output_frame(frame);
    if (parsed.kind == FrameKind::uncompared) return;  // the primary's copy left uncompared
    std::uint16_t flow = flow_of(parsed);
    if (flow == kNoFlow) {
        diverge(Divergence::queue_full);
        return;
    }
    Flow& f = flows_[flow];
    if (parsed.kind == FrameKind::tcp) {
        if (parsed.has(tcp_flag::ack) && (!f.has_backup_ack || seq_before(f.backup_ack, parsed.ack))) {
            f.backup_ack = parsed.ack;
            f.has_backup_ack = true;
        }
        if (parsed.pure_ack()) {
            ++stats_.backup_acks;  // its acknowledgement is all that counts: kept above
            match(flow, now_ns);
            flush();
            return;
        }
        bool repeated_syn = parsed.has(tcp_flag::syn) && f.syn_matched;
        if (repeated_syn ||
            (!parsed.has(tcp_flag::rst) && f.has_released && seq_at_or_before(parsed.space_end(), f.released_to))) {
            ++stats_.backup_late;  // bytes the primary already released after a match
            return;
        }
    }
    backup_.trim();
    if (backup_.count == backup_.capacity) {
        diverge(Divergence::queue_full);
        return;
    }
    backup_.push(frame, parsed, flow, now_ns, State::held);
    match(flow, now_ns);
    flush();
}

// --- matching --------------------------------------------------------------------------------

// The primary's frames of `flow`, oldest first, become ready while they match; the first that
// waits keeps every later one of its flow waiting too, so a flow's frames leave in order.
void OutputComparator::match(std::uint16_t flow, std::uint64_t now_ns) {
    for (std::size_t i = 0; i < primary_.count; ++i) {
        std::size_t index = primary_.at(i);
        Slot& slot = primary_.slots[index];
        if (slot.flow != flow || slot.state != State::held) continue;
        Verdict verdict = Verdict::waiting;
        std::size_t backup_index = kNoSlot;  // a backup frame the match uses up (a datagram, a SYN)
        if (slot.frame.kind == FrameKind::tcp) {
            verdict = evaluate_tcp(slot, index, flows_[flow], backup_index);
        } else {
            verdict = evaluate_datagram(index, flow, backup_index);
        }
        if (verdict == Verdict::matched && backup_index != kNoSlot) backup_.slots[backup_index].state = State::free;
        if (verdict == Verdict::mismatch) diverge(Divergence::mismatch);
        if (verdict == Verdict::waiting || verdict == Verdict::mismatch) return;
        make_ready(slot, verdict, now_ns);
        Flow& f = flows_[flow];
        if (slot.frame.kind == FrameKind::tcp && slot.frame.has(tcp_flag::syn)) f.syn_matched = true;
        if (slot.frame.kind == FrameKind::tcp && verdict == Verdict::matched && !slot.frame.pure_ack()) {
            std::uint32_t end = slot.frame.space_end();
            if (!f.has_released || seq_before(f.released_to, end)) f.released_to = end;
            f.has_released = true;
            drop_released_backup(flow);
        }
    }
}

OutputComparator::Verdict OutputComparator::evaluate_tcp(const Slot& slot, std::size_t index, const Flow& flow,
                                                         std::size_t& backup_index) const {
    const OutputFrame& f = slot.frame;
    if (f.pure_ack()) {
        return flow.has_backup_ack && seq_at_or_before(f.ack, flow.backup_ack) ? Verdict::matched : Verdict::waiting;
    }
    // A retransmission of what a match already released (RFC 9293 §3.10.7.4): nothing new.
    if (!f.has(tcp_flag::rst) && flow.has_released && seq_at_or_before(f.space_end(), flow.released_to)) {
        return Verdict::early;
    }
    if (f.has(tcp_flag::syn)) return evaluate_syn(index, slot.flow, backup_index);
    return compare_ranges(slot, index, slot.flow);
}

// A SYN against the flow's oldest SYN from the backup: the same flags and payload (TCP Fast Open
// data), whatever the initial sequence number.
OutputComparator::Verdict OutputComparator::evaluate_syn(std::size_t index, std::uint16_t flow,
                                                         std::size_t& backup_index) const {
    constexpr std::uint8_t kCompared = tcp_flag::syn | tcp_flag::ack | tcp_flag::fin | tcp_flag::rst;
    const OutputFrame& p = primary_.slots[index].frame;
    for (std::size_t i = 0; i < backup_.count; ++i) {
        std::size_t bi = backup_.at(i);
        const Slot& b = backup_.slots[bi];
        if (b.flow != flow || b.state != State::held || !b.frame.has(tcp_flag::syn)) continue;
        backup_index = bi;
        auto pp = primary_.payload(index), q = backup_.payload(bi);
        bool same = (p.tcp_flags & kCompared) == (b.frame.tcp_flags & kCompared) && pp.size() == q.size() &&
                    __builtin_memcmp(pp.data(), q.data(), pp.size()) == 0;
        return same ? Verdict::matched : Verdict::mismatch;
    }
    return Verdict::waiting;
}

namespace {
// [start, end) of b inside [start, end) of a, in sequence space; false when they do not overlap.
bool overlap(std::uint32_t a_start, std::uint32_t a_end, std::uint32_t b_start, std::uint32_t b_end,
             std::uint32_t& lo, std::uint32_t& hi) {
    lo = seq_before(a_start, b_start) ? b_start : a_start;
    hi = seq_before(a_end, b_end) ? a_end : b_end;
    return seq_before(lo, hi);
}
bool within(std::uint32_t x, std::uint32_t start, std::uint32_t end) {  // start <= x < end
    return seq_at_or_before(start, x) && seq_before(x, end);
}
}  // namespace

// The primary's segment (not a SYN) against every backup segment of its flow: any byte that
// differs, or a stream ending (FIN) where the other has data, is a mismatch; it matches once
// backup segments cover all its bytes and carry the same FIN and RST at the same places.
OutputComparator::Verdict OutputComparator::compare_ranges(const Slot& slot, std::size_t index,
                                                           std::uint16_t flow) const {
    const OutputFrame& p = slot.frame;
    const std::uint32_t start = p.data_seq(), end = p.data_end();
    auto p_bytes = primary_.payload(index);
    bool fin = !p.has(tcp_flag::fin), rst = !p.has(tcp_flag::rst);
    for (std::size_t i = 0; i < backup_.count; ++i) {
        std::size_t bi = backup_.at(i);
        const Slot& b = backup_.slots[bi];
        if (b.flow != flow || b.state != State::held || b.frame.has(tcp_flag::syn)) continue;  // SYNs: evaluate_syn
        const OutputFrame& q = b.frame;
        // A FIN takes the number after the last byte: the other side sending a byte there differs.
        if (q.has(tcp_flag::fin) && within(q.data_end(), start, end)) return Verdict::mismatch;
        if (p.has(tcp_flag::fin) && within(end, q.data_seq(), q.data_end())) return Verdict::mismatch;
        std::uint32_t lo = 0, hi = 0;
        if (overlap(start, end, q.data_seq(), q.data_end(), lo, hi)) {
            auto b_bytes = backup_.payload(bi);
            for (std::uint32_t s = lo; s != hi; ++s) {
                if (p_bytes[s - start] != b_bytes[s - q.data_seq()]) return Verdict::mismatch;
            }
        }
        fin = fin || (q.has(tcp_flag::fin) && q.data_end() == end);
        rst = rst || (q.has(tcp_flag::rst) && q.seq == p.seq);
    }
    // Coverage: walk from `start` along backup segments until `end` or a gap.
    std::uint32_t covered = start;
    for (bool advanced = true; advanced && seq_before(covered, end);) {
        advanced = false;
        for (std::size_t i = 0; i < backup_.count; ++i) {
            const Slot& b = backup_.slots[backup_.at(i)];
            if (b.flow != flow || b.state != State::held || b.frame.has(tcp_flag::syn)) continue;
            if (seq_at_or_before(b.frame.data_seq(), covered) && seq_before(covered, b.frame.data_end())) {
                covered = seq_before(end, b.frame.data_end()) ? end : b.frame.data_end();
                advanced = true;
            }
        }
    }
    return covered == end && fin && rst ? Verdict::matched : Verdict::waiting;
}

// UDP and ICMP: the flow's oldest backup datagram against this one.
OutputComparator::Verdict OutputComparator::evaluate_datagram(std::size_t index, std::uint16_t flow,
                                                              std::size_t& backup_index) const {
    for (std::size_t i = 0; i < backup_.count; ++i) {
        std::size_t bi = backup_.at(i);
        const Slot& b = backup_.slots[bi];
        if (b.flow != flow || b.state != State::held) continue;
        backup_index = bi;
        auto p = primary_.payload(index), q = backup_.payload(bi);
        bool same = primary_.slots[index].frame.icmp_type_code == b.frame.icmp_type_code && p.size() == q.size() &&
                    __builtin_memcmp(p.data(), q.data(), p.size()) == 0;
        return same ? Verdict::matched : Verdict::mismatch;
    }
    return Verdict::waiting;
}

void OutputComparator::make_ready(Slot& slot, Verdict why, std::uint64_t now_ns) {
    slot.state = State::ready;
    if (why == Verdict::early) {
        ++stats_.released_early;
        return;
    }
    ++stats_.released_matched;
    std::uint64_t lag = now_ns > slot.arrival_ns ? now_ns - slot.arrival_ns : 0;
    ++stats_.lag_count;
    stats_.lag_sum_ns += lag;
    if (lag > stats_.lag_max_ns) stats_.lag_max_ns = lag;
    std::size_t bucket = 0;
    while (bucket + 1 < ComparatorStats::kLagBuckets && (lag / 1000) >= (std::uint64_t{1} << bucket)) ++bucket;
    ++stats_.lag_buckets[bucket];
}

// Backup segments wholly inside what was released have been compared: they go.
void OutputComparator::drop_released_backup(std::uint16_t flow) {
    const Flow& f = flows_[flow];
    for (std::size_t i = 0; i < backup_.count; ++i) {
        Slot& b = backup_.slots[backup_.at(i)];
        if (b.flow != flow || b.state != State::held || b.frame.has(tcp_flag::rst)) continue;
        if (seq_at_or_before(b.frame.space_end(), f.released_to)) b.state = State::free;
    }
    backup_.trim();
}

// --- frames out, bounds, generations ------------------------------------------------------------

void OutputComparator::flush() {
    for (std::size_t i = 0; i < primary_.count; ++i) {
        std::size_t index = primary_.at(i);
        if (primary_.slots[index].state != State::ready) continue;
        if (!out_.transmit(primary_.bytes(index))) break;  // the NIC is full: the rest on the next poll
        primary_.slots[index].state = State::free;
    }
    primary_.trim();
}

Divergence OutputComparator::poll(std::uint64_t now_ns) {
    flush();
    if (!synced_) return divergence_;  // the backup's guest is not running this generation yet
    const Ring* rings[] = {&primary_, &backup_};
    for (const Ring* ring : rings) {
        for (std::size_t i = 0; i < ring->count; ++i) {
            const Slot& s = ring->slots[ring->at(i)];
            if (s.state != State::held) continue;
            std::uint64_t since = s.arrival_ns > synced_ns_ ? s.arrival_ns : synced_ns_;
            if (now_ns > since && now_ns - since > wait_ns_) diverge(Divergence::timeout);
            break;  // the oldest one waiting decides
        }
    }
    return divergence_;
}

void OutputComparator::diverge(Divergence why) {
    if (divergence_ != Divergence::none) return;  // one checkpoint answers them all
    divergence_ = why;
    ++stats_.divergences[static_cast<std::size_t>(why)];
}

bool OutputComparator::start_generation(std::uint64_t generation) {
    if (generation <= generation_) return false;
    generation_ = generation;
    synced_ = false;
    release_waiting();
    return true;
}

void OutputComparator::release_waiting() {
    for (std::size_t i = 0; i < primary_.count; ++i) {
        Slot& slot = primary_.slots[primary_.at(i)];
        slot.flow = kNoFlow;
        if (slot.state != State::held) continue;
        slot.state = State::ready;
        ++stats_.released_committed;
    }
    for (std::size_t i = 0; i < backup_.count; ++i) backup_.slots[backup_.at(i)].state = State::free;
    backup_.trim();
    for (Flow& f : flows_) f = {};
    divergence_ = Divergence::none;
    flush();
}

void OutputComparator::backup_synced(std::uint64_t now_ns) {
    synced_ = true;
    synced_ns_ = now_ns;
}

std::size_t OutputComparator::primary_waiting() const {
    std::size_t n = 0;
    for (std::size_t i = 0; i < primary_.count; ++i) n += primary_.slots[primary_.at(i)].state == State::held;
    return n;
}

std::size_t OutputComparator::backup_waiting() const {
    std::size_t n = 0;
    for (std::size_t i = 0; i < backup_.count; ++i) n += backup_.slots[backup_.at(i)].state == State::held;
    return n;
}

}  // namespace tandem::lockstep
