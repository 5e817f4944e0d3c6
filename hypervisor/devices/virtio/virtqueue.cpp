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

Result<Chain> Virtqueue::pop(Chain& out) {
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
    std::uint16_t index = *head;
    for (std::uint32_t hops = 0;; ++hops) {
        if (hops == q.size || out.count == Chain::kMaxSegments) return Error::of("virtqueue: descriptor chain too long or looping", *head);
        std::uint64_t at = q.desc + kDescSize * index;
        auto addr = memory_->load<std::uint64_t>(at);
        auto len = memory_->load<std::uint32_t>(at + 8);
        auto flags = memory_->load<std::uint16_t>(at + 12);
        auto next = memory_->load<std::uint16_t>(at + 14);
        if (!addr || !len || !flags || !next) return Error::of("virtqueue: descriptor outside guest RAM", at);
        if (*flags & kDescIndirect) return Error::of("virtqueue: indirect descriptors were not negotiated", index);
        if (!memory_->contains(*addr, *len)) return Error::of("virtqueue: buffer outside guest RAM", *addr);
        bool writable = *flags & kDescWrite;
        // Readable segments come before writable ones in a chain (§2.6.4.2).
        if (!writable && out.writable_bytes != 0) return Error::of("virtqueue: readable buffer after a writable one", index);
        out.segments[out.count++] = {*addr, *len, writable};
        (writable ? out.writable_bytes : out.readable_bytes) += *len;
        if (!(*flags & kDescNext)) break;
        if (*next >= q.size) return Error::of("virtqueue: next descriptor index out of range", *next);
        index = *next;
    }
    ++q.last_avail;
    return out;
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
