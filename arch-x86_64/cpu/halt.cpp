#include "arch-x86_64/cpu/intrinsics.hpp"
#include "hypervisor/runtime/panic.hpp"

namespace tandem {

void platform_halt() { x86::halt_forever(); }

}  // namespace tandem
