// Stopping the hypervisor with a reason. Every fatal path ends here: the reason goes to the
// console first, then the CPU halts with interrupts off. Never a silent stop.
#pragma once

#include "hypervisor/console/console.hpp"

namespace tandem {

// Provided by the architecture layer: halt this CPU forever.
[[noreturn]] void platform_halt();

template <class... Args>
[[noreturn]] void panic(std::string_view fmt, const Args&... args) {
    Writer& out = console();
    out.flush();  // what the console holds first, then the reason synchronously
    out.write("tandem: PANIC: ");
    print(out, fmt, args...);
    out.write("\ntandem: halted\n");
    platform_halt();
}

}  // namespace tandem
