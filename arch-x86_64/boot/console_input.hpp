// Console input for the shell: what arrives on COM1 is read at every timer tick (bounded) and
// handed to the shell, so the console answers while a guest runs.
#pragma once

#include "arch-x86_64/serial/console_uart.hpp"
#include "arch-x86_64/vmx/virtual_machine.hpp"
#include "hypervisor/console/shell.hpp"

namespace tandem::x86 {

class ConsoleInput final : public TickListener {
public:
    explicit ConsoleInput(Shell& shell) : shell_(shell) {}
    void on_tick() override { poll(); }
    void poll() {
        for (int i = 0; i < kMaxPerTick; ++i) {
            auto c = console_uart().try_read();
            if (!c) return;
            shell_.feed(*c);
        }
    }

private:
    static constexpr int kMaxPerTick = 64;
    Shell& shell_;
};

}  // namespace tandem::x86
