#include "replication/sessions/single_status_json.hpp"

#include "hypervisor/console/json_writer.hpp"

namespace tandem::sessions {

void write_single_status_json(Writer& out, const SessionMachine& machine, const SingleMachineStatus& s) {
    const std::uint64_t khz = machine.tsc_khz() == 0 ? 1 : machine.tsc_khz();
    JsonWriter json(out);
    json.begin_object();
    json.field("schema", kConsoleSchema);
    json.field("kind", "status");
    json.field("role", "primary");
    json.field("mode", s.mode);
    json.field("protection", s.protection);
    json.field("phase", s.ended ? "ended" : "running");
    json.field("guest", s.ended ? "ended" : "running");
    json.field("uptime_ms", machine.now() / khz);
    json.object_field("epoch");
    json.maybe_field("length_ms", s.has_length, s.length_ms);
    json.maybe_field("current", s.has_current, s.current);
    json.null_field("acknowledged");
    json.maybe_field("committed", s.has_committed, s.committed);
    json.null_field("protected_from");
    json.end_object();
    json.field("output_held_frames", std::uint64_t{0});
    if (s.failed_over) {
        json.object_field("last_failover");
        json.field("uptime_ms", s.failed_over_at / khz);
        json.field("epoch", s.failover_epoch);
        json.field("cause", "local");
        json.end_object();
    } else {
        json.null_field("last_failover");
    }
    json.object_field("backups");
    json.field("joined", std::uint64_t{0});
    json.field("lost", std::uint64_t{0});
    json.end_object();
    json.end_object();
    json.end_line();
}

}  // namespace tandem::sessions
