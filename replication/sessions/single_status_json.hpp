// `status --json` of the modes that run one machine (mode=standalone, and mode=checkpoint
// peer=local, whose backup is a copy on the same machine): the same "status" object as a pair's
// (docs/console-schema.json), so a monitoring system reads every mode alike.
#pragma once

#include <cstdint>

#include "hypervisor/console/writer.hpp"
#include "replication/sessions/session_machine.hpp"

namespace tandem::sessions {

struct SingleMachineStatus {
    const char* mode = "standalone";          // or "checkpoint_local"
    const char* protection = "unprotected";   // or "protected": a committed local copy exists
    bool ended = false;                       // the guest has ended
    bool has_length = false, has_current = false, has_committed = false;
    std::uint64_t length_ms = 0, current = 0, committed = 0;
    bool failed_over = false;                 // the guest resumed from the local copy
    std::uint64_t failed_over_at = 0, failover_epoch = 0;  // ticks; the epoch resumed
};

void write_single_status_json(Writer& out, const SessionMachine& machine, const SingleMachineStatus& status);

}  // namespace tandem::sessions
