#include "replication/sessions/standalone_session.hpp"

#include "hypervisor/console/console_mux.hpp"
#include "replication/sessions/single_status_json.hpp"

namespace tandem::sessions {

void StandaloneSession::command_status(void* context, std::string_view args, Writer& out) {
    auto* self = static_cast<StandaloneSession*>(context);
    auto form = Shell::form_argument("status", args, out);
    if (!form) return;
    if (*form == Shell::Form::text) return report_guest_status(out, self->machine_, "");
    SingleMachineStatus status;
    status.ended = self->ran_;
    write_single_status_json(out, self->machine_, status);
}

void StandaloneSession::command_failover(void*, std::string_view, Writer& out) {
    println(out, "failover: nothing to fail over to (mode=checkpoint peer=local keeps a backup)");
}

Status StandaloneSession::start() {
    if (auto s = machine_.prepare_guest(GuestPlan{}); !s) return s;
    Shell& shell = machine_.shell();
    (void)shell.add({"status", "the guest and checkpointing state", command_status, this, "[--json]"});
    (void)shell.add({"failover", "stop the primary and resume the guest from the backup", command_failover, this});
    // No prompt yet: guest output would start on the prompt's line. One follows each command.
    ConsoleMux::announce_ready(machine_.out());
    return success();
}

void StandaloneSession::guest_ended(const GuestEnd& end) {
    ran_ = true;
    machine_.report_guest_end(end);
}

}  // namespace tandem::sessions
