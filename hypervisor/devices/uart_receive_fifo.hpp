// The receive side of the guest's 16550 (PC16550D data sheet, "FIFO Control Register" and "Line
// Status Register"): 16 bytes, oldest first. A byte that arrives while it is full is lost and
// sets the overrun error (LSR bit 1), which reading LSR clears. tandem's console only hands over
// what fits (Uart16550Model::input_room), so overruns come only from the guest's own loopback.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tandem {

class UartReceiveFifo {
public:
    static constexpr std::size_t kDepth = 16;

    bool empty() const { return count_ == 0; }
    std::size_t size() const { return count_; }
    std::size_t room() const { return kDepth - count_; }
    bool overrun() const { return overrun_; }

    void push(std::uint8_t byte) {
        if (count_ == kDepth) {
            overrun_ = true;
            return;
        }
        bytes_[(head_ + count_) % kDepth] = byte;
        ++count_;
    }
    // The oldest byte; 0 when empty (the receive buffer register of an idle 16550 reads so).
    std::uint8_t pop() {
        if (count_ == 0) return 0;
        std::uint8_t byte = bytes_[head_];
        head_ = (head_ + 1) % kDepth;
        --count_;
        return byte;
    }
    std::uint8_t at(std::size_t i) const { return bytes_[(head_ + i) % kDepth]; }  // i < size()
    bool take_overrun() {
        bool was = overrun_;
        overrun_ = false;
        return was;
    }
    void clear() { *this = UartReceiveFifo{}; }
    void set_overrun(bool on) { overrun_ = on; }

private:
    std::uint8_t bytes_[kDepth]{};
    std::size_t head_ = 0;
    std::size_t count_ = 0;
    bool overrun_ = false;
};

}  // namespace tandem
