// Why the guest stopped running.
#pragma once

#include <cstdint>

namespace tandem {

struct GuestEnd {
    enum class Kind : std::uint8_t { running, exited, stopped } kind = Kind::running;
    std::uint64_t exit_code = 0;    // kind == exited: the code it passed to the exit hypercall
    const char* reason = "";        // kind == stopped: what happened
};

}  // namespace tandem
