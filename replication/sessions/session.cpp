#include "replication/sessions/session.hpp"

#include "replication/sessions/session_machine.hpp"

namespace tandem::sessions {

void report_problem(Writer& out, const char* what, const Error& error) {
    print(out, "tandem: cannot start the guest: {}: ", what);
    println(out, "{}", error);
}

void report_guest_status(Writer& out, const SessionMachine& machine, const char* where, const char* note) {
    ExitWait longest = machine.longest_exit();
    println(out, "status: guest running{}, {} exits so far, the longest {} us ({}){}", where,
            machine.guest_exits(), longest.microseconds, longest.reason, note);
}

void drive(Session& session, SessionMachine& machine) {
    if (!session.start()) return;
    for (;;) {
        switch (session.poll()) {
        case Session::Next::run_guest: session.guest_ended(machine.run_guest()); break;
        case Session::Next::wait:
            machine.poll_console();
            machine.idle();
            break;
        case Session::Next::finished: return;
        }
    }
}

}  // namespace tandem::sessions
