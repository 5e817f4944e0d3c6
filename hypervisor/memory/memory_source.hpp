// Where a mode gets its working memory (guest-sized images, staging, bitmaps, queues): frames
// from the allocator, reached through the host memory window (the identity map on the machine,
// host buffers in tests), handed out zeroed. Nothing is ever given back: a mode's memory lives
// as long as tandem runs.
#pragma once

#include <cstdint>
#include <span>

#include "hypervisor/memory/frame_allocator.hpp"
#include "hypervisor/util/result.hpp"
#include "hypervisor/vm/guest_memory.hpp"

namespace tandem {

class MemorySource {
public:
    MemorySource(FrameAllocator& frames, const HostMemoryWindow& window) : frames_(frames), window_(window) {}

    const HostMemoryWindow& window() const { return window_; }
    FrameAllocator& frames() { return frames_; }

    // `bytes` rounded up to whole pages, zeroed.
    Result<std::span<std::uint8_t>> zeroed(std::uint64_t bytes);
    template <class T>
    Result<std::span<T>> zeroed_array(std::uint64_t count) {
        static_assert(alignof(T) <= kPageSize);
        auto bytes = zeroed(count * sizeof(T));
        if (!bytes) return bytes.error();
        return std::span<T>{reinterpret_cast<T*>(bytes->data()), static_cast<std::size_t>(count)};
    }
    // Appends `size` bytes of zeroed RAM (a multiple of 2 MiB) to `memory`, which must use this
    // source's window.
    Status guest_sized(std::uint64_t size, GuestMemory& memory) { return allocate_guest_memory(frames_, size, memory); }

private:
    FrameAllocator& frames_;
    const HostMemoryWindow& window_;
};

}  // namespace tandem
