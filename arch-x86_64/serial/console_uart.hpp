// tandem's own console port (COM1), set up by the boot path: the shell reads its input here, and
// all output goes through the buffered console over it (console.hpp's console() and
// guest_console() are its two writers).
#pragma once

#include "arch-x86_64/serial/uart16550.hpp"
#include "hypervisor/console/buffered_console.hpp"
#include "hypervisor/console/message_log.hpp"

namespace tandem::x86 {

Uart16550& console_uart();
BufferedConsole& buffered_console();
// tandem's own messages pass through it on their way to the buffered console (console()).
MessageLog& message_log();

}  // namespace tandem::x86
