// A mode of operation as a session object (DESIGN §1): standalone, checkpoint to a local image,
// pair primary and pair backup (one PairSession), the link test; lockstep and migration join the
// same table (arch-x86_64/boot/mode_table.cpp). A session is driven, never blocking itself: the
// driver below runs the guest when the session asks for it and polls it otherwise, so the host
// tests drive the same session objects step by step.
#pragma once

#include "hypervisor/vm/guest_end.hpp"
#include "hypervisor/util/result.hpp"

namespace tandem::sessions {

class SessionMachine;

class Session {
public:
    enum class Next : std::uint8_t { run_guest, wait, finished };

    // Sets the mode up (NICs, memory, the guest); a problem is reported on the console and
    // returned.
    virtual Status start() = 0;
    // What the machine does next: run the guest, wait (the session polled its link and
    // console), or nothing more (tandem halts).
    virtual Next poll() = 0;
    // The guest stopped running (it exited, was stopped, or a failover ended it).
    virtual void guest_ended(const GuestEnd& end) = 0;

protected:
    ~Session() = default;
};

// Starts the session and runs it until it has finished.
void drive(Session& session, SessionMachine& machine);

}  // namespace tandem::sessions
