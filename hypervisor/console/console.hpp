// The hypervisor's console: where boot messages, reports and errors go. On the machine it is
// the COM1 UART; until one is attached (and in host tests) output is discarded.
#pragma once

#include "hypervisor/console/writer.hpp"

namespace tandem {

Writer& console();
void attach_console(Writer& writer);

}  // namespace tandem
