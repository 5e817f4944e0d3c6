// The one VM on this processor: EPT over the guest's RAM, the VMCS with computed controls, host
// state and access bitmaps, optionally PML, and the run loop that enters the guest and hands
// every exit to the vCPU. Everything it allocates (EPT tables, VMCS, bitmaps, PML log) comes from
// the frame allocator and is never mapped into the guest. Requires VMX root operation.
#pragma once

#include "arch-x86_64/paging/identity_table_memory.hpp"
#include "arch-x86_64/vmx/access_bitmaps.hpp"
#include "arch-x86_64/vmx/ept.hpp"
#include "arch-x86_64/vmx/ept_dirty_control.hpp"
#include "arch-x86_64/vmx/entry_barrier.hpp"
#include "arch-x86_64/vmx/exit_latency.hpp"
#include "arch-x86_64/vmx/machine_platform.hpp"
#include "arch-x86_64/vmx/vcpu.hpp"
#include "arch-x86_64/vmx/vmcs_hardware.hpp"
#include "arch-x86_64/vmx/vmx_capabilities.hpp"
#include "hypervisor/memory/frame_allocator.hpp"
#include "hypervisor/vm/tick_listener.hpp"
#include "replication/dirty/dirty_tracker.hpp"

namespace tandem::x86 {

struct VmSetup {
    const VmxCapabilityMsrs& msrs;
    const VmxCapabilities& caps;
    FrameAllocator& frames;
    GuestMemory& memory;
    GuestEntry entry;
    std::uint64_t tsc_khz;
    bool small_pages = false;  // 4 KiB EPT leaves only (dirty tracking needs one flag per page)
    bool pml = false;          // enable page-modification logging
    std::uint64_t timer_period_ms = 10;
    bool local_apic = false;   // the guest has PcPlatform's devices: CPUID says so (cpuid_policy.hpp)
};

struct GuestRunResult {
    GuestEnd end;
    VcpuStats stats;
};

class VirtualMachine {
public:
    explicit VirtualMachine(FrameAllocator& frames) : frames_(frames), tables_(frames), ept_(tables_) {}

    Status create(const VmSetup& setup, PortIoBus& io, Writer& console);
    // Runs the guest until it ends (exits, is stopped, or a hook stops it).
    GuestRunResult run();

    Vcpu& vcpu() { return *vcpu_; }
    const Vcpu& vcpu() const { return *vcpu_; }
    HardwareVmcs& vmcs() { return vmcs_; }
    MachinePlatform& platform() { return platform_; }
    dirty::EptDirtyControl& dirty_control() { return dirty_control_; }
    dirty::PmlLog* pml_log() { return pml_enabled_ ? &pml_log_ : nullptr; }

    // Points the guest at other RAM of the same size (failover to the backup image): a new EPT
    // over its chunks, the EPT pointer switched, cached translations invalidated.
    Status use_memory(GuestMemory& memory);
    void invalidate_ept();
    Status add_tick_listener(TickListener& listener) {
        if (tick_count_ == kMaxTickListeners) return Error::of("vm: too many tick listeners");
        tick_listeners_[tick_count_++] = &listener;
        return success();
    }
    // Work after every exit, tick or not; cheap when it has nothing to do (the console's output).
    void set_after_exit(TickListener* listener) { after_exit_ = listener; }
    // The longest time from a VM exit to the next entry so far, and its exit reason.
    const ExitLatency& exit_latency() const { return latency_; }

private:
    struct InveptSingle {
        VirtualMachine* vm;
        void operator()() const { vm->invalidate_ept(); }
    };

    class PmlLogPage final : public dirty::PmlLog {
    public:
        void attach(std::uint64_t page, HardwareVmcs& vmcs) {
            page_ = page;
            vmcs_ = &vmcs;
        }
        std::span<const std::uint64_t> entries() const override {
            return {reinterpret_cast<const std::uint64_t*>(page_), kEntries};
        }
        std::uint16_t index() const override { return static_cast<std::uint16_t>(vmcs_->read(vmcs::guest_pml_index)); }
        void reset_index() override { vmcs_->write(vmcs::guest_pml_index, kEntries - 1); }

    private:
        std::uint64_t page_ = 0;
        HardwareVmcs* vmcs_ = nullptr;
    };

    Status map_guest_ram(EptBuilder<IdentityTableMemory>& ept, GuestMemory& memory);
    void fill_msr_bitmap(MsrBitmap& bitmap, bool rdtscp) const;
    void report_overrun();
    VcpuConfig vcpu_config(const VmSetup& setup, std::uint32_t secondary, const CrPolicy& cr, PreemptionTimerRate rate,
                           std::uint64_t reload) const;

    FrameAllocator& frames_;
    IdentityTableMemory tables_;
    EptBuilder<IdentityTableMemory> ept_;
    EptBuilder<IdentityTableMemory> failover_ept_{tables_};
    EptDirtyControlImpl<IdentityTableMemory, InveptSingle> dirty_control_{ept_, InveptSingle{this}};
    HardwareVmcs vmcs_;
    MachinePlatform platform_;
    PmlLogPage pml_log_;
    Vcpu* vcpu_ = nullptr;
    std::uint64_t eptp_ = 0;
    bool accessed_dirty_ = false;
    bool small_pages_ = false;
    bool pml_enabled_ = false;
    bool launched_ = false;
    bool invept_single_ = false;
    static constexpr std::size_t kMaxTickListeners = 4;
    TickListener* tick_listeners_[kMaxTickListeners]{};
    std::size_t tick_count_ = 0;
    TickListener* after_exit_ = nullptr;
    // An exit that holds the guest over 50 ms (a sixth of the default failover_ms) is reported,
    // at most every 5 s (issue 19's watchdog).
    static constexpr std::uint64_t kWatchdogBoundMs = 50, kWatchdogQuietMs = 5000;
    ExitLatency latency_;
    std::uint64_t tsc_khz_ = 0;
    EntryBarrier entry_barrier_;
};

}  // namespace tandem::x86
