// The transmitter under tandem's console: COM1 on the machine (arch-x86_64/serial/uart16550.hpp),
// a recording fake in host tests. Bytes go out as given (the console has already turned "\n"
// into "\r\n").
#pragma once

#include <cstddef>

namespace tandem {

class SerialPort {
public:
    // How many bytes the transmitter takes now without waiting: a 16550A whose line status says
    // THR empty has its whole 16-byte FIFO free (PC16550D data sheet, "FIFO Interrupt Mode
    // Operation"), otherwise none. Never waits.
    virtual std::size_t ready() = 0;
    // One byte that ready() said the transmitter takes.
    virtual void put(char c) = 0;
    // One byte, waiting for the transmitter as long as it takes (~87 µs per byte at 115200 baud;
    // the wait itself is bounded, so a dead UART cannot hang tandem).
    virtual void put_waiting(char c) = 0;

protected:
    ~SerialPort() = default;
};

}  // namespace tandem
