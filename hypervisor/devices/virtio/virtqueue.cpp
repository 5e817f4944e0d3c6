#include "hypervisor/devices/virtio/virtqueue.hpp"

namespace tandem::virtio {
namespace {
// Ring layouts (§2.6.6, §2.6.8): avail = flags u16, idx u16, ring[size] u16; used = flags u16,
// idx u16, ring[size] {id u32, len u32}. Descriptors are 16 bytes: addr u64, len u32, flags u16,
// next u16.
constexpr std::uint64_t kDescSize = 16;
}  // namespace

Status Virtqueue::validate() const {
    const QueueState& q = state_;
    if (q.size == 0 || q.size > kMaxQueueSize || (q.size & (q.size - 1)) != 0) {
        return Error::of("virtqueue: size is not a power of two within the maximum", q.size);
    }
    if (q.desc % 16 != 0 || q.avail % 2 != 0 || q.used % 4 != 0) return Error::of("virtqueue: misaligned ring", q.desc);
    if (!memory_->contains(q.desc, kDescSize * q.size) || !memory_->contains(q.avail, 6 + 2ull * q.size) ||
        !memory_->contains(q.used, 6 + 8ull * q.size)) {
        return Error::of("virtqueue: ring outside guest RAM", q.desc);
    }
    return success();
}

Result<bool> Virtqueue::has_available() const {
    auto idx = memory_->load<std::uint16_t>(state_.avail + 2);
    if (!idx) return idx.error();
    return *idx != state_.last_avail;
}

Result<Chain> Virtqueue::pop(Chain& out, bool indirect) {
    QueueState& q = state_;
    auto avail_idx = memory_->load<std::uint16_t>(q.avail + 2);
    if (!avail_idx) return avail_idx.error();
    // The driver may not get more than a queue's worth ahead (§2.6.6).
    if (static_cast<std::uint16_t>(*avail_idx - q.last_avail) > q.size) {
        return Error::of("virtqueue: available index runs more than a queue ahead", *avail_idx);
    }
    if (*avail_idx == q.last_avail) return Error::of("virtqueue: nothing available");
    auto head = memory_->load<std::uint16_t>(q.avail + 4 + 2ull * (q.last_avail % q.size));
    if (!head) return head.error();
    if (*head >= q.size) return Error::of("virtqueue: head descriptor index out of range", *head);

    out = Chain{};
    out.head = *head;
    // Walk the chain in the ring's descriptor table; an indirect head switches to its table.
    std::uint64_t table = q.desc;
    std::uint32_t entries = q.size;
    bool in_indirect = false;
    std::uint16_t index = *head;
    for (std::uint32_t hops = 0;;) {
        // A chain no longer than its table (§2.6.5.2, §2.6.5.3.1): this also ends loops.
        if (hops == entries || out.count == Chain::kMaxSegments) {
            return Error::of("virtqueue: descriptor chain too long or looping", *head);
        }
        ++hops;
        std::uint64_t at = table + kDescSize * index;
        std::uint8_t raw[kDescSize];
        if (!memory_->read(at, raw)) return Error::of("virtqueue: descriptor outside guest RAM", at);
        std::uint64_t addr = 0;
        std::uint32_t len = 0;
        for (int i = 7; i >= 0; --i) addr = (addr << 8) | raw[i];
        for (int i = 11; i >= 8; --i) len = (len << 8) | raw[i];
        auto flags = static_cast<std::uint16_t>(raw[12] | raw[13] << 8);
        auto next = static_cast<std::uint16_t>(raw[14] | raw[15] << 8);
        if (flags & kDescIndirect) {
            // §2.6.5.3.1: only if negotiated, never with NEXT, never inside an indirect table;
            // the table is whole descriptors inside guest RAM. Linux puts it at the head.
            if (!indirect) return Error::of("virtqueue: indirect descriptors were not negotiated", index);
            if (in_indirect) return Error::of("virtqueue: indirect descriptor inside an indirect table", index);
            if (hops != 1) return Error::of("virtqueue: indirect descriptor not at the head of its chain", index);
            if (flags & kDescNext) return Error::of("virtqueue: indirect descriptor with a next descriptor", index);
            if (len == 0 || len % kDescSize != 0 || len / kDescSize > Chain::kMaxSegments) {
                return Error::of("virtqueue: indirect table of impossible length", len);
            }
            if (!memory_->contains(addr, len)) return Error::of("virtqueue: indirect table outside guest RAM", addr);
            table = addr;
            entries = len / kDescSize;
            in_indirect = true;
            index = 0;
            hops = 0;
            continue;
        }
        if (!memory_->contains(addr, len)) return Error::of("virtqueue: buffer outside guest RAM", addr);
        bool writable = flags & kDescWrite;
        // Readable segments come before writable ones in a chain (§2.6.4.2).
        if (!writable && out.writable_bytes != 0) return Error::of("virtqueue: readable buffer after a writable one", index);
        out.segments[out.count++] = {addr, len, writable};
        (writable ? out.writable_bytes : out.readable_bytes) += len;
        if (!(flags & kDescNext)) break;
        if (next >= entries) return Error::of("virtqueue: next descriptor index out of range", next);
        index = next;
    }
    ++q.last_avail;
    return out;
}

bool Virtqueue::interrupt_suppressed() const {
    auto flags = memory_->load<std::uint16_t>(state_.avail);
    return flags && (*flags & kAvailNoInterrupt) != 0;
}

Status Virtqueue::push_used(std::uint16_t head, std::uint32_t written) {
    QueueState& q = state_;
    std::uint64_t slot = q.used + 4 + 8ull * (q.used_idx % q.size);
    if (auto s = memory_->store<std::uint32_t>(slot, head); !s) return s;
    if (auto s = memory_->store<std::uint32_t>(slot + 4, written); !s) return s;
    ++q.used_idx;
    // The element is written before the index that publishes it (§2.6.8.2); on x86 stores are
    // not reordered with stores, so program order is enough.
    return memory_->store<std::uint16_t>(q.used + 2, q.used_idx);
}

Result<std::size_t> gather(GuestMemory& memory, const Chain& chain, std::size_t skip, std::span<std::uint8_t> out) {
    std::size_t done = 0;
    for (std::size_t i = 0; i < chain.count && done < out.size(); ++i) {
        const Segment& s = chain.segments[i];
        if (s.device_writable) break;
        std::uint64_t len = s.length, gpa = s.gpa;
        if (skip >= len) {
            skip -= static_cast<std::size_t>(len);
            continue;
        }
        gpa += skip;
        len -= skip;
        skip = 0;
        std::size_t n = len < out.size() - done ? static_cast<std::size_t>(len) : out.size() - done;
        if (auto st = memory.read(gpa, out.subspan(done, n)); !st) return st.error();
        done += n;
    }
    return done;
}

Result<std::size_t> scatter(GuestMemory& memory, const Chain& chain, std::span<const std::uint8_t> in) {
    std::size_t done = 0;
    for (std::size_t i = 0; i < chain.count && done < in.size(); ++i) {
        const Segment& s = chain.segments[i];
        if (!s.device_writable) continue;
        std::size_t n = s.length < in.size() - done ? s.length : in.size() - done;
        if (auto st = memory.write(s.gpa, in.subspan(done, n)); !st) return st.error();
        done += n;
    }
    return done;
}

}  // namespace tandem::virtio
