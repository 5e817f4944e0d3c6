// The hypervisor's console: where boot messages, reports and errors go, and where the guest's
// console output goes (its own writer, because a buffered console may drop guest output but
// never tandem's: buffered_console.hpp). On the machine both are COM1 through the buffered
// console; until one is attached (and in host tests) output is discarded.
#pragma once

#include "hypervisor/console/writer.hpp"

namespace tandem {

Writer& console();
Writer& guest_console();
// One writer for both.
void attach_console(Writer& writer);
void attach_console(Writer& own, Writer& guest);

}  // namespace tandem
