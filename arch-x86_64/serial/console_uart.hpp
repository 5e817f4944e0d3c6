// tandem's own console port (COM1), set up by the boot path; the shell reads its input here.
#pragma once

#include "arch-x86_64/serial/uart16550.hpp"

namespace tandem::x86 {

Uart16550& console_uart();

}  // namespace tandem::x86
