// Where the console multiplexer (console_mux.hpp) puts what is typed into the guest's console:
// the guest's serial port (Uart16550Model), which takes only what it has room for, so typed
// input waits in the multiplexer rather than being lost.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tandem {

class ConsoleInputSink {
public:
    virtual std::size_t input_room() const = 0;
    // Only called while input_room() is non-zero.
    virtual void accept_input(std::uint8_t byte) = 0;

protected:
    ~ConsoleInputSink() = default;
};

}  // namespace tandem
