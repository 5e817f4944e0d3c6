// Console output while a guest runs: the buffered console (console_uart.hpp) drained without
// waiting after every exit, tick or not: one line-status read and at most a FIFO's worth of
// bytes, nothing at all while nothing waits. Between guest runs the idle loop drains it. The
// time lets tandem's messages that wait for the end of a guest line go after kHoldMs.
#pragma once

#include "arch-x86_64/serial/console_uart.hpp"
#include "hypervisor/vm/tick_listener.hpp"
#include "replication/link/link_interfaces.hpp"

namespace tandem::x86 {

class ConsoleOutput final : public TickListener {
public:
    explicit ConsoleOutput(link::Clock& clock) : clock_(clock) {}
    void on_tick() override { buffered_console().drain(clock_.now_ns() / 1'000'000); }

private:
    link::Clock& clock_;
};

}  // namespace tandem::x86
