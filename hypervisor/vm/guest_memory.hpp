// The guest's RAM: guest-physical [0, size) backed by host frames in a few large chunks. This is
// the only memory EPT ever maps for the guest, so nothing of the hypervisor (image, page tables,
// VMCS, staging areas, NIC rings) can be reached from inside. Every access the hypervisor makes
// on the guest's behalf (loading images, reading hypercall buffers, device DMA) goes through
// the bounds-checked helpers here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "hypervisor/memory/frame_allocator.hpp"
#include "hypervisor/util/result.hpp"

namespace tandem {

// How the hypervisor reaches host-physical memory: identity-mapped on the machine, a buffer in
// host tests. Returns nullptr when [hpa, hpa + length) is not accessible.
class HostMemoryWindow {
public:
    virtual std::uint8_t* at(std::uint64_t hpa, std::size_t length) const = 0;

protected:
    ~HostMemoryWindow() = default;
};

class GuestMemory;

// Told before the hypervisor itself writes guest RAM (device models, DMA): such writes bypass
// EPT, so dirty tracking and copy-on-write capture learn of them here.
class GuestWriteObserver {
public:
    virtual void before_write(std::uint64_t gpa, std::uint64_t length) = 0;

protected:
    ~GuestWriteObserver() = default;
};

// A device model that reads and writes guest RAM itself: after a failover the guest runs on
// other RAM (the backup image), and such a model must follow it.
class GuestMemoryUser {
public:
    virtual void set_memory(GuestMemory& memory) = 0;

protected:
    ~GuestMemoryUser() = default;
};

struct GuestRamChunk {
    std::uint64_t gpa;
    std::uint64_t hpa;
    std::uint64_t size;
};

class GuestMemory {
public:
    static constexpr std::size_t kMaxChunks = 64;
    static constexpr std::uint64_t kChunkAlignment = 2ull << 20;  // so EPT can use 2 MiB pages

    explicit GuestMemory(const HostMemoryWindow& window) : window_(&window) {}

    // Appends host memory at the end of the guest-physical space.
    Status append(std::uint64_t hpa, std::uint64_t size);
    std::uint64_t size() const { return size_; }
    std::span<const GuestRamChunk> chunks() const { return {chunks_, count_}; }

    bool contains(std::uint64_t gpa, std::uint64_t length) const {
        return gpa <= size_ && length <= size_ - gpa;
    }
    // The host-physical address backing gpa, or an error outside guest RAM.
    Result<std::uint64_t> host_address(std::uint64_t gpa) const;

    void set_write_observer(GuestWriteObserver* observer) { observer_ = observer; }

    Status read(std::uint64_t gpa, std::span<std::uint8_t> out) const;
    Status write(std::uint64_t gpa, std::span<const std::uint8_t> in);
    Status fill(std::uint64_t gpa, std::uint8_t value, std::uint64_t length);

    template <class T>
    Result<T> load(std::uint64_t gpa) const {
        T value{};
        if (auto s = read(gpa, {reinterpret_cast<std::uint8_t*>(&value), sizeof(T)}); !s) return s.error();
        return value;
    }
    template <class T>
    Status store(std::uint64_t gpa, const T& value) {
        return write(gpa, {reinterpret_cast<const std::uint8_t*>(&value), sizeof(T)});
    }

private:
    // Calls f(host pointer, length) for each piece of [gpa, gpa + length) in order.
    template <class F>
    Status for_each_piece(std::uint64_t gpa, std::uint64_t length, F&& f) const;

    const HostMemoryWindow* window_;
    GuestWriteObserver* observer_ = nullptr;
    GuestRamChunk chunks_[kMaxChunks]{};
    std::size_t count_ = 0;
    std::uint64_t size_ = 0;
};

// Takes `size` bytes (a multiple of 2 MiB) from the allocator in as few 2 MiB-aligned chunks as
// it can and appends them to `memory`. The frames are zeroed: a guest never sees old data.
Status allocate_guest_memory(FrameAllocator& frames, std::uint64_t size, GuestMemory& memory);

}  // namespace tandem
