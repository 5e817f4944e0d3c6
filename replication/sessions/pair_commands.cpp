// The pair's shell commands (issue 16): `status`, `stats` and `link` (each also as one line of
// JSON, docs/console-schema.json), `epoch` and `failover`. Every one answers or refuses with the
// reason.
#include "replication/sessions/pair_session.hpp"

namespace tandem::sessions {

namespace {
using Report = void (*)(const PairSession& session, Writer& out);

// A status-like command: its lines for people, or with --json its one line of JSON.
void answer(const char* command, std::string_view args, Writer& out, const PairSession& session, Report text,
            Report json) {
    auto form = Shell::form_argument(command, args, out);
    if (form) (*form == Shell::Form::json ? json : text)(session, out);
}
}  // namespace

void PairSession::command_status(void* context, std::string_view args, Writer& out) {
    answer("status", args, out, *static_cast<const PairSession*>(context),
           [](const PairSession& s, Writer& o) { s.status(o); }, [](const PairSession& s, Writer& o) { s.status_json(o); });
}

void PairSession::command_stats(void* context, std::string_view args, Writer& out) {
    answer("stats", args, out, *static_cast<const PairSession*>(context),
           [](const PairSession& s, Writer& o) { s.stats(o); }, [](const PairSession& s, Writer& o) { s.stats_json(o); });
}

void PairSession::command_link(void* context, std::string_view args, Writer& out) {
    answer("link", args, out, *static_cast<const PairSession*>(context),
           [](const PairSession& s, Writer& o) { s.link_report(o); },
           [](const PairSession& s, Writer& o) { s.link_report_json(o); });
}

void PairSession::command_epoch(void* context, std::string_view args, Writer& out) {
    auto* self = static_cast<PairSession*>(context);
    if (!self->primary_) {
        println(out, "epoch: this machine is the backup: the primary sets the epoch");
        return;
    }
    engine::PrimaryReplicator& primary = *self->primary_;
    if (args.empty()) {
        println(out, "epoch: {} ms", primary.epoch_ms());
        return;
    }
    auto ms = Shell::number_argument(args, kMinEpochMs, kMaxEpochMs);
    if (!ms) {
        println(out, "epoch: the length is a whole number of milliseconds from {} to {} (not '{}')", kMinEpochMs,
                kMaxEpochMs, args);
        return;
    }
    std::uint32_t was = primary.epoch_ms();
    self->epoch_ms_ = static_cast<std::uint32_t>(*ms);
    primary.set_epoch(self->epoch_ms_, self->machine_.tsc_khz() * *ms);
    println(out, "epoch: {} ms from the next epoch boundary on (was {} ms)", *ms, was);
}

void PairSession::command_failover(void* context, std::string_view, Writer& out) {
    static_cast<PairSession*>(context)->failover(out);
}

void PairSession::command_switchover(void* context, std::string_view, Writer& out) {
    static_cast<PairSession*>(context)->switchover(out);
}

void PairSession::register_commands() {
    Shell& shell = machine_.shell();
    (void)shell.add({"status", "the pair's state: role, protection, epochs, the guest", command_status, this, "[--json]"});
    (void)shell.add({"stats", "epochs (dirty pages, pauses), the stream's throughput, output held", command_stats, this,
                     "[--json]"});
    (void)shell.add({"link", "the replication link's state and counters", command_link, this, "[--json]"});
    (void)shell.add({"epoch", "the epoch length: show it, or set it on the primary", command_epoch, this, "[ms]"});
    (void)shell.add({"failover", "on the primary: stop the guest here for good, the backup takes it over",
                     command_failover, this});
    (void)shell.add({"switchover", "on the primary: the guest moves to the backup with nothing lost; this machine "
                                   "becomes the backup",
                     command_switchover, this});
    (void)shell.add({"migrate", "on the primary: the guest moves to the machine booted mode=migrate once it has "
                                "caught up; this machine then runs nothing",
                     command_migrate, this, "[cancel]"});
    (void)shell.add({"reprotect", "on a machine that handed its guest over (failover, migrate): rejoin as the backup "
                                  "of the machine that runs it",
                     command_reprotect, this});
}

}  // namespace tandem::sessions
