// What a mode needs from the machine it runs on (DESIGN §1: each mode is a small portable
// session over the same guest machine). The x86 layer implements it over VMX, the NICs and the
// TSC (arch-x86_64/boot/x86_machine.hpp); the host tests implement it over fakes, so the
// sessions — the takeover included — run on the host exactly as in the image.
#pragma once

#include <cstdint>

#include "hypervisor/config/config.hpp"
#include "hypervisor/console/shell.hpp"
#include "hypervisor/console/writer.hpp"
#include "hypervisor/memory/memory_source.hpp"
#include "hypervisor/vm/guest_end.hpp"
#include "hypervisor/vm/guest_events.hpp"
#include "hypervisor/vm/guest_machine.hpp"
#include "nic-drivers/nic.hpp"
#include "replication/checkpoint/cpu_state.hpp"
#include "replication/dirty/dirty_tracker.hpp"
#include "replication/link/link_interfaces.hpp"
#include "replication/link/link_keys.hpp"
#include "replication/sessions/guest_network.hpp"

namespace tandem::sessions {

// The longest time the guest has waited on the hypervisor: from a VM exit to the next entry,
// and the reason of that exit (the console's status; "none" before any was measured).
struct ExitWait {
    std::uint64_t microseconds = 0;
    const char* reason = "none";
};

// How a mode wants its guest.
struct GuestPlan {
    bool load_guest = true;      // false on a backup: its guest arrives with the checkpoints
    bool checkpointing = false;  // 4 KiB EPT leaves (a dirty flag per page), PML when tracking by it
    // Where the guest's network frames go (the output-commit buffer); nullptr: the client NIC.
    virtio::NetBackend* net_output = nullptr;
    const char* net_note = "";   // how the console describes that output
};

class SessionMachine {
public:
    virtual const Config& config() const = 0;
    virtual Writer& out() = 0;
    virtual Shell& shell() = 0;
    virtual MemorySource& memory() = 0;

    // Time: the TSC (ticks), its rate, the link's nanosecond clock; random numbers for session
    // ids and probe challenges.
    using Random64 = std::uint64_t (*)();
    virtual std::uint64_t now() const = 0;
    virtual std::uint64_t tsc_khz() const = 0;
    virtual link::Clock& clock() = 0;
    virtual Random64 random() = 0;

    // The NICs the mode needs (a missing required one is an error naming what was found).
    virtual Status open_nics(bool link, bool client) = 0;
    virtual nic::Nic* link_nic() = 0;
    virtual nic::Nic* client_nic() = 0;
    // The link key (key= or a link_key module) and this machine's share of session ids.
    virtual Result<link::LinkSecret> link_secret() = 0;

    // The guest: RAM, its image (plan.load_guest), the VM and the guest machine around it.
    virtual Result<DirtyTracking> dirty_tracking() = 0;
    virtual Status prepare_guest(const GuestPlan& plan) = 0;
    virtual GuestMemory& ram() = 0;
    virtual GuestMachine& guest_machine() = 0;
    virtual GuestNetwork* guest_network() = 0;  // nullptr without guest_mac=
    virtual void set_events(GuestEvents* events) = 0;
    virtual void set_tick_ms(std::uint32_t ms) = 0;
    virtual Status capture_cpu(checkpoint::CpuState& out) = 0;
    virtual Status restore_cpu(const checkpoint::CpuState& state) = 0;
    virtual std::uint64_t guest_rip() = 0;
    virtual dirty::EptDirtyControl& dirty_control() = 0;
    virtual dirty::PmlLog* pml_log() = 0;
    // The guest runs on other RAM of the same size from now on (a local failover).
    virtual Status use_memory(GuestMemory& memory) = 0;
    virtual void stop_guest(const char* reason) = 0;
    virtual std::uint64_t guest_exits() const = 0;  // VM exits so far (the console's status)
    virtual ExitWait longest_exit() const = 0;
    // Runs the guest until it ends; then report_guest_end() says how, with the exit figures.
    virtual GuestEnd run_guest() = 0;
    virtual void report_guest_end(const GuestEnd& end) = 0;

    // Between guest runs: the console, and a pause in a polling loop.
    virtual void poll_console() = 0;
    virtual void idle() = 0;

protected:
    ~SessionMachine() = default;
};

// "tandem: cannot start the guest: WHAT: ERROR" on the console.
void report_problem(Writer& out, const char* what, const Error& error);
// "status: guest running[ here], N exits so far, the longest M us (EXIT REASON)[NOTE]".
void report_guest_status(Writer& out, const SessionMachine& machine, const char* where, const char* note = "");

}  // namespace tandem::sessions
