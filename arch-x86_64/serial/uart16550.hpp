// The 16550 UART on COM1: tandem's console (115200 8N1, polled). As a Writer it writes
// synchronously, translating "\n" to "\r\n"; as the SerialPort under the buffered console
// (hypervisor/console/buffered_console.hpp) it says how many bytes its transmitter takes without
// waiting, so the console can drain it a FIFO's worth at a time and never wait inside an exit.
#pragma once

#include <cstdint>
#include <optional>

#include "hypervisor/console/serial_port.hpp"
#include "hypervisor/console/writer.hpp"

namespace tandem::x86 {

class Uart16550 final : public Writer, public SerialPort {
public:
    explicit constexpr Uart16550(std::uint16_t base) : base_(base) {}

    // Programs 115200 8N1 with FIFOs enabled. Returns false when no UART answers at base
    // (the scratch register does not hold a value), in which case writes are dropped.
    bool init();
    void write(std::string_view text) override;
    std::optional<char> try_read();
    bool present() const { return present_; }

    // SerialPort: with THR empty, the transmit FIFO (16 bytes on a 16550A, 1 without FIFOs).
    std::size_t ready() override;
    void put(char c) override;
    void put_waiting(char c) override {
        if (present_) put_raw(c);
    }

private:
    void put_raw(char c);

    std::uint16_t base_;
    bool present_ = false;
    std::size_t fifo_ = 1;
};

}  // namespace tandem::x86
