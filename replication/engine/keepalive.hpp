// Liveness from inside long operations (issue 14, defect 5). A join copies the whole guest; an
// epoch with thousands of dirty pages is copied during the pause (capture=copy) on the primary
// and applied whole on the backup: in an emulator each can last longer than failover_ms, and a
// peer that hears nothing for that long declares the other lost. The operation calls
// keepalive() every kKeepaliveEvery pages; the owner sends a heartbeat when one is due. It must
// not receive (the operation is in the middle of the state a received frame would change).
#pragma once

#include <cstdint>

namespace tandem::engine {

class Keepalive {
public:
    virtual void keepalive() = 0;

protected:
    ~Keepalive() = default;
};

inline constexpr std::uint64_t kKeepaliveEvery = 64;  // pages between calls (256 KiB of copying)

}  // namespace tandem::engine
