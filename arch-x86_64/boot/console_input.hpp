// Console input: what arrives on COM1 is read at every timer tick (bounded) and handed to the
// console multiplexer (guest console or tandem's shell), which then passes typed input on to
// the guest's UART as far as it has room, so the console answers while a guest runs.
#pragma once

#include "arch-x86_64/serial/console_uart.hpp"
#include "arch-x86_64/vmx/virtual_machine.hpp"
#include "hypervisor/console/console_mux.hpp"

namespace tandem::x86 {

class ConsoleInput final : public TickListener {
public:
    explicit ConsoleInput(ConsoleMux& mux) : mux_(mux) {}
    void on_tick() override { poll(); }
    void poll() {
        for (int i = 0; i < kMaxPerTick; ++i) {
            auto c = console_uart().try_read();
            if (!c) break;
            mux_.feed(*c);
        }
        mux_.deliver();
    }

private:
    static constexpr int kMaxPerTick = 64;
    ConsoleMux& mux_;
};

}  // namespace tandem::x86
