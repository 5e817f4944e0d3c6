// mode=standalone: the guest runs unprotected, its network output straight to the client NIC.
// The baseline every overhead figure is measured against.
#pragma once

#include "replication/sessions/session.hpp"
#include "replication/sessions/session_machine.hpp"

namespace tandem::sessions {

class StandaloneSession final : public Session {
public:
    explicit StandaloneSession(SessionMachine& machine) : machine_(machine) {}

    Status start() override;
    Next poll() override { return ran_ ? Next::finished : Next::run_guest; }
    void guest_ended(const GuestEnd& end) override;

private:
    static void command_status(void* context, std::string_view arguments, Writer& out);
    static void command_failover(void* context, std::string_view arguments, Writer& out);

    SessionMachine& machine_;
    bool ran_ = false;
};

}  // namespace tandem::sessions
