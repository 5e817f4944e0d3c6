// The modes tandem runs (DESIGN §1), chosen from the command line: one table from (mode, peer,
// role) to the session that runs it (replication/sessions/), over this machine's adapter.
#pragma once

#include "arch-x86_64/boot/x86_machine.hpp"
#include "hypervisor/config/config.hpp"

namespace tandem::x86 {

struct ModeEntry {
    const char* name;
    bool (*selects)(const Config& config);
    // A guest module is required (refused without one) or optional (without one tandem says
    // the boot is complete and halts).
    enum class Guest : std::uint8_t { none, optional, required } guest;
    void (*run)(X86Machine& machine);
};

// The entry for the configuration, or nullptr: the mode is not implemented in this build.
const ModeEntry* find_mode(const Config& config);

}  // namespace tandem::x86
