#include "arch-x86_64/boot/mode_table.hpp"

#include "replication/sessions/linktest_session.hpp"
#include "replication/sessions/loopback_session.hpp"
#include "replication/sessions/pair_session.hpp"
#include "replication/sessions/standalone_session.hpp"

namespace tandem::x86 {
namespace {

// One session object per mode, in static storage (there is no heap), driven to its end.
template <class S>
void run(X86Machine& machine) {
    static S session(machine);
    sessions::drive(session, machine);
}

bool standalone(const Config& c) { return c.mode == Mode::standalone; }
bool local_checkpoints(const Config& c) { return c.mode == Mode::checkpoint && c.peer == PeerChoice::local; }
bool pair_primary(const Config& c) {
    return c.mode == Mode::checkpoint && c.peer == PeerChoice::link && c.role == Role::primary;
}
bool pair_backup(const Config& c) {
    return c.mode == Mode::checkpoint && c.peer == PeerChoice::link && c.role == Role::backup;
}
// The machine a live migration moves the guest to: on the link it joins as a backup does (the
// configuration made it role=backup), and runs the guest once its primary hands it over.
bool migration_target(const Config& c) { return c.mode == Mode::migrate && c.peer == PeerChoice::link; }
bool linktest(const Config& c) { return c.mode == Mode::linktest; }

using Guest = ModeEntry::Guest;
constexpr ModeEntry kModes[] = {
    {"standalone", standalone, Guest::optional, run<sessions::StandaloneSession>},
    {"checkpoint to a local backup image", local_checkpoints, Guest::optional, run<sessions::LoopbackSession>},
    {"protected pair, primary", pair_primary, Guest::required, run<sessions::PairSession>},
    {"protected pair, backup", pair_backup, Guest::none, run<sessions::PairSession>},
    {"live migration, the target", migration_target, Guest::none, run<sessions::PairSession>},
    {"link test", linktest, Guest::none, run<sessions::LinktestSession>},
    // lockstep: not yet (find_mode returns nullptr and boot says so).
};

}  // namespace

const ModeEntry* find_mode(const Config& config) {
    for (const ModeEntry& m : kModes) {
        if (m.selects(config)) return &m;
    }
    return nullptr;
}

}  // namespace tandem::x86
