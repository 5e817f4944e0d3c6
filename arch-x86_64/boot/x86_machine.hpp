// This processor as the sessions see it (replication/sessions/session_machine.hpp): the one x86
// machine adapter. It owns the VMX VM and the guest machine around it, the NICs, the TSC and
// the console input, and carries out what the portable sessions ask: load the guest, build the
// VM (EPT, VMCS, vCPU) and its devices, set the tick, capture and restore the vCPU, run.
#pragma once

#include <optional>

#include "arch-x86_64/boot/boot_info.hpp"
#include "arch-x86_64/boot/console_input.hpp"
#include "arch-x86_64/boot/console_output.hpp"
#include "arch-x86_64/boot/guest_image.hpp"
#include "arch-x86_64/boot/link_glue.hpp"
#include "arch-x86_64/nic/machine_nics.hpp"
#include "arch-x86_64/vmx/virtual_machine.hpp"
#include "arch-x86_64/vmx/vmcs_guest_clock.hpp"
#include "arch-x86_64/vmx/vmx_capabilities.hpp"
#include "replication/sessions/session_machine.hpp"

namespace tandem::x86 {

struct MachineFacts {
    const Config& config;
    const boot::BootInfo& boot;
    FrameAllocator& frames;
    const VmxCapabilityMsrs& msrs;
    const VmxCapabilities& caps;
    std::uint64_t tsc_khz;
};

class X86Machine final : public sessions::SessionMachine, public VcpuWiring {
public:
    // What a waiting session's console may keep unsent (idle()): a takeover's lines (~600 bytes).
    static constexpr std::size_t kIdleBacklog = 1024;

    explicit X86Machine(const MachineFacts& facts);
    X86Machine(const X86Machine&) = delete;
    X86Machine& operator=(const X86Machine&) = delete;

    const Config& config() const override { return facts_.config; }
    Writer& out() override { return out_; }
    Shell& shell() override { return shell_; }
    MemorySource& memory() override { return memory_; }
    std::uint64_t now() const override;
    std::uint64_t tsc_khz() const override { return facts_.tsc_khz; }
    link::Clock& clock() override { return clock_; }
    Random64 random() override { return &session_id; }

    Status open_nics(bool link, bool client) override;
    nic::Nic* link_nic() override { return nics_.link; }
    nic::Nic* client_nic() override { return nics_.client; }
    Result<link::LinkSecret> link_secret() override { return x86::link_secret(facts_.config, facts_.boot); }

    Result<DirtyTracking> dirty_tracking() override { return dirty_method(facts_.config, facts_.caps); }
    Status prepare_guest(const sessions::GuestPlan& plan) override;
    GuestMemory& ram() override { return ram_; }
    GuestMachine& guest_machine() override { return guest_; }
    sessions::GuestNetwork* guest_network() override { return network_ ? &*network_ : nullptr; }
    void set_events(GuestEvents* events) override { vm_.vcpu().set_hooks(events); }
    void set_tick_ms(std::uint32_t ms) override { vm_.vcpu().set_tick_ms(ms, facts_.tsc_khz); }
    Status capture_cpu(checkpoint::CpuState& out) override;
    Status restore_cpu(const checkpoint::CpuState& state) override;
    std::uint64_t guest_rip() override { return vm_.vmcs().read(vmcs::guest_rip); }
    dirty::EptDirtyControl& dirty_control() override { return vm_.dirty_control(); }
    dirty::PmlLog* pml_log() override { return vm_.pml_log(); }
    Status use_memory(GuestMemory& memory) override;
    void stop_guest(const char* reason) override { vm_.vcpu().stop(reason); }
    std::uint64_t guest_exits() const override { return vcpu_stats().exits; }
    sessions::ExitWait longest_exit() const override;
    GuestEnd run_guest() override;
    void report_guest_end(const GuestEnd& end) override;
    void poll_console() override { input_.poll(); }
    void idle() override;

    // VcpuWiring: the guest machine's models wired to the vCPU.
    GuestClock& guest_clock() override { return *guest_clock_; }
    void set_interrupts(GuestInterruptSource* source) override { vm_.vcpu().set_interrupts(source); }
    void set_mmio_bus(MmioBus* bus) override { vm_.vcpu().set_mmio_bus(bus); }
    Status add_tick_listener(TickListener& listener) override { return vm_.add_tick_listener(listener); }
    bool guest_running() const override;

private:
    Result<GuestEntry> load_guest(bool linux_guest);
    Status create_vm(const sessions::GuestPlan& plan, const GuestEntry& entry, bool linux_guest);
    Status build_devices(const sessions::GuestPlan& plan, bool linux_guest);
    const VcpuStats& vcpu_stats() const;
    void problem(const char* what, const Error& e);
    void report_exit_figures(const VcpuStats& st);

    MachineFacts facts_;
    Writer& out_;
    MemorySource memory_;
    Shell shell_;
    ConsoleMux mux_;
    ConsoleInput input_;
    TscClock clock_;
    ConsoleOutput output_{clock_};
    MachineNics nics_{};
    bool nics_open_ = false;
    GuestMemory ram_;
    VirtualMachine vm_;
    bool vm_created_ = false;
    GuestMachine guest_;
    std::optional<VmcsGuestClock> guest_clock_;
    std::optional<sessions::ClientNicSender> client_sender_;
    std::optional<sessions::GuestNetwork> network_;
    GuestRunResult last_run_{};
    std::uint64_t hash_before_ = 0;
};

}  // namespace tandem::x86
