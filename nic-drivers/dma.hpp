// Memory a device reads and writes by DMA. A driver gets it from a DmaMemory and must hand the
// device only `phys` addresses inside buffers it was given: the CPU side uses `cpu`, the device
// side `phys`, and the two never mix.
//
// Production (arch layer): frames from the frame allocator, which are identity-mapped
// write-back RAM in the host page tables (so cpu == phys as a pointer); x86 DMA is
// cache-coherent, so write-back memory is correct. Host tests: host buffers with fake physical
// addresses, and a fake device that refuses any address it was not given.
#pragma once

#include <cstddef>
#include <cstdint>

#include "hypervisor/util/result.hpp"

namespace tandem::nic {

inline constexpr std::size_t kDmaAlignment = 4096;

struct DmaBuffer {
    std::uint8_t* cpu = nullptr;  // where the CPU reads and writes it
    std::uint64_t phys = 0;       // the address the device uses
    std::size_t size = 0;

    constexpr bool valid() const { return cpu != nullptr && size != 0; }
};

class DmaMemory {
public:
    // `size` bytes (rounded up to whole pages), physically contiguous, aligned to
    // kDmaAlignment on both sides, contents unspecified. Lives until release().
    virtual Result<DmaBuffer> allocate(std::size_t size) = 0;
    virtual void release(const DmaBuffer& buffer) = 0;

protected:
    ~DmaMemory() = default;
};

// Orders the CPU's accesses to DMA memory against each other and against the MMIO access that
// hands descriptors over. On x86 (TSO; Intel SDM Vol. 3A §8.2.2) stores are not reordered with
// stores and loads not with loads, so only the compiler must be kept from reordering.
inline void dma_write_barrier() { __atomic_signal_fence(__ATOMIC_SEQ_CST); }
inline void dma_read_barrier() { __atomic_signal_fence(__ATOMIC_SEQ_CST); }

}  // namespace tandem::nic
