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

// A standalone machine given a link key (key=, a link_key module, or insecure_link=1) can move its
// guest away with `migrate`: the pair's session runs it, taking no backup unless asked to migrate
// (pair_migrate.cpp). Without a key it has no link at all.
bool standalone_with_link(const Config& c) {
    return c.mode == Mode::standalone && (c.has_key || c.link_key_module || c.insecure_link);
}
bool standalone(const Config& c) { return c.mode == Mode::standalone && !standalone_with_link(c); }
bool local_checkpoints(const Config& c) { return c.mode == Mode::checkpoint && c.peer == PeerChoice::local; }
bool pair_primary(const Config& c) {
    return c.mode == Mode::checkpoint && c.peer == PeerChoice::link && c.role == Role::primary;
}
bool pair_backup(const Config& c) {
    return c.mode == Mode::checkpoint && c.peer == PeerChoice::link && c.role == Role::backup;
}
// The machine a live migration moves the guest to: on the link it joins as a backup does (the
// configuration made it role=backup), and runs the guest once its primary hands it over.
bool lockstep_primary(const Config& c) { return c.mode == Mode::lockstep && c.role == Role::primary; }
bool lockstep_backup(const Config& c) { return c.mode == Mode::lockstep && c.role == Role::backup; }
bool migration_target(const Config& c) { return c.mode == Mode::migrate && c.peer == PeerChoice::link; }
bool linktest(const Config& c) { return c.mode == Mode::linktest; }

using Guest = ModeEntry::Guest;
constexpr ModeEntry kModes[] = {
    {"standalone", standalone, Guest::optional, run<sessions::StandaloneSession>},
    {"standalone, able to migrate", standalone_with_link, Guest::required, run<sessions::PairSession>},
    {"checkpoint to a local backup image", local_checkpoints, Guest::optional, run<sessions::LoopbackSession>},
    {"protected pair, primary", pair_primary, Guest::required, run<sessions::PairSession>},
    {"protected pair, backup", pair_backup, Guest::none, run<sessions::PairSession>},
    {"live migration, the target", migration_target, Guest::none, run<sessions::PairSession>},
    {"lockstep pair, primary", lockstep_primary, Guest::required, run<sessions::PairSession>},
    {"lockstep pair, backup", lockstep_backup, Guest::none, run<sessions::PairSession>},
    {"link test", linktest, Guest::none, run<sessions::LinktestSession>},
};

}  // namespace

const ModeEntry* find_mode(const Config& config) {
    for (const ModeEntry& m : kModes) {
        if (m.selects(config)) return &m;
    }
    return nullptr;
}

}  // namespace tandem::x86
