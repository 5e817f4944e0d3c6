// Console output while a guest runs: the buffered console (console_uart.hpp) drained without
// waiting after every exit, tick or not: one line-status read and at most a FIFO's worth of
// bytes, nothing at all while nothing waits. Between guest runs the idle loop drains it.
#pragma once

#include "arch-x86_64/serial/console_uart.hpp"
#include "hypervisor/vm/tick_listener.hpp"

namespace tandem::x86 {

class ConsoleOutput final : public TickListener {
public:
    void on_tick() override { buffered_console().drain(); }
};

}  // namespace tandem::x86
