// A device's memory-mapped register window (a memory BAR), the only way a driver reaches its
// registers. Offsets are relative to the BAR; accesses are 32 bits wide and 4-byte aligned.
// The arch layer maps the BAR uncached (PCD|PWT or a UC PAT entry) in the host page tables and
// wraps the mapping in a VolatileMmioWindow; host tests implement the interface with a
// register-level fake device.
#pragma once

#include <cstdint>

namespace tandem::nic {

class MmioWindow {
public:
    // Size of the window in bytes. Drivers check it covers their register map before use.
    virtual std::uint32_t size() const = 0;
    // `offset` is 4-aligned and offset + 4 <= size() (drivers guarantee it; VolatileMmioWindow
    // checks it again and turns a violation into an all-ones read or a dropped write).
    virtual std::uint32_t read32(std::uint32_t offset) = 0;
    virtual void write32(std::uint32_t offset, std::uint32_t value) = 0;

protected:
    ~MmioWindow() = default;
};

// The production window: volatile 32-bit loads and stores through the uncached mapping.
// Uncached (UC) MMIO accesses are strongly ordered with respect to each other and to earlier
// stores on x86 (Intel SDM Vol. 3A §11.3), so no fence is needed here.
class VolatileMmioWindow final : public MmioWindow {
public:
    VolatileMmioWindow(volatile std::uint32_t* base, std::uint32_t size) : base_(base), size_(size) {}

    std::uint32_t size() const override { return size_; }
    std::uint32_t read32(std::uint32_t offset) override { return in_range(offset) ? base_[offset / 4] : 0xffff'ffffu; }
    void write32(std::uint32_t offset, std::uint32_t value) override {
        if (in_range(offset)) base_[offset / 4] = value;
    }

private:
    bool in_range(std::uint32_t offset) const { return offset % 4 == 0 && offset < size_ && size_ - offset >= 4; }

    volatile std::uint32_t* base_;
    std::uint32_t size_;
};

}  // namespace tandem::nic
