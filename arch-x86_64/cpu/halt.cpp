#include "arch-x86_64/cpu/intrinsics.hpp"
#include "hypervisor/console/console.hpp"
#include "hypervisor/runtime/panic.hpp"

namespace tandem {

namespace x86 {

void halt_forever() {
    // Whatever the buffered console still holds goes out first: a halted tandem must leave its
    // last words on the serial line, not in memory.
    console().flush();
    for (;;) asm volatile("cli; hlt");
}

}  // namespace x86

void platform_halt() { x86::halt_forever(); }

}  // namespace tandem
