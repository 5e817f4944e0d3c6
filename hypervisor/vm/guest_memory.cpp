#include "hypervisor/vm/guest_memory.hpp"

namespace tandem {

Status GuestMemory::append(std::uint64_t hpa, std::uint64_t size) {
    if (size == 0 || hpa % kPageSize != 0 || size % kPageSize != 0) {
        return Error::of("guest memory: chunk is not page-aligned", hpa);
    }
    if (count_ != 0 && chunks_[count_ - 1].hpa + chunks_[count_ - 1].size == hpa) {
        chunks_[count_ - 1].size += size;  // host-contiguous with the last chunk: extend it
    } else {
        if (count_ == kMaxChunks) return Error::of("guest memory: too many chunks", kMaxChunks);
        chunks_[count_++] = {size_, hpa, size};
    }
    size_ += size;
    return success();
}

Result<std::uint64_t> GuestMemory::host_address(std::uint64_t gpa) const {
    for (std::size_t i = 0; i < count_; ++i) {
        const GuestRamChunk& c = chunks_[i];
        if (gpa >= c.gpa && gpa - c.gpa < c.size) return c.hpa + (gpa - c.gpa);
    }
    return Error::of("guest memory: address outside guest RAM", gpa);
}

template <class F>
Status GuestMemory::for_each_piece(std::uint64_t gpa, std::uint64_t length, F&& f) const {
    if (!contains(gpa, length)) return Error::of("guest memory: access outside guest RAM", gpa);
    for (std::size_t i = 0; i < count_ && length != 0; ++i) {
        const GuestRamChunk& c = chunks_[i];
        if (gpa >= c.gpa + c.size) continue;
        std::uint64_t offset = gpa - c.gpa;
        std::uint64_t piece = c.size - offset < length ? c.size - offset : length;
        std::uint8_t* host = window_->at(c.hpa + offset, static_cast<std::size_t>(piece));
        if (host == nullptr) return Error::of("guest memory: backing memory not accessible", c.hpa + offset);
        f(host, static_cast<std::size_t>(piece));
        gpa += piece;
        length -= piece;
    }
    return success();
}

Status GuestMemory::read(std::uint64_t gpa, std::span<std::uint8_t> out) const {
    std::size_t done = 0;
    return for_each_piece(gpa, out.size(), [&](std::uint8_t* host, std::size_t n) {
        __builtin_memcpy(out.data() + done, host, n);
        done += n;
    });
}

Status GuestMemory::write(std::uint64_t gpa, std::span<const std::uint8_t> in) {
    if (observer_ != nullptr && !in.empty() && contains(gpa, in.size())) observer_->before_write(gpa, in.size());
    std::size_t done = 0;
    return for_each_piece(gpa, in.size(), [&](std::uint8_t* host, std::size_t n) {
        __builtin_memcpy(host, in.data() + done, n);
        done += n;
    });
}

Status GuestMemory::fill(std::uint64_t gpa, std::uint8_t value, std::uint64_t length) {
    if (observer_ != nullptr && length != 0 && contains(gpa, length)) observer_->before_write(gpa, length);
    return for_each_piece(gpa, length, [&](std::uint8_t* host, std::size_t n) {
        __builtin_memset(host, value, n);
    });
}

Status allocate_guest_memory(FrameAllocator& frames, std::uint64_t size, GuestMemory& memory) {
    if (size == 0 || size % GuestMemory::kChunkAlignment != 0) {
        return Error::of("guest memory: size must be a non-zero multiple of 2 MiB", size);
    }
    std::uint64_t base = memory.size();
    std::uint64_t remaining = size;
    std::uint64_t attempt = size;
    while (remaining != 0) {
        if (attempt > remaining) attempt = remaining;
        auto chunk = frames.allocate(attempt, GuestMemory::kChunkAlignment);
        if (!chunk) {
            // Memory is fragmented: try smaller pieces, down to one 2 MiB page.
            if (attempt == GuestMemory::kChunkAlignment) {
                return Error::of("guest memory: not enough free RAM; bytes still needed", remaining);
            }
            attempt = (attempt / 2 + GuestMemory::kChunkAlignment - 1) & ~(GuestMemory::kChunkAlignment - 1);
            continue;
        }
        if (auto s = memory.append(*chunk, attempt); !s) return s;
        remaining -= attempt;
    }
    return memory.fill(base, 0, size);
}

}  // namespace tandem
