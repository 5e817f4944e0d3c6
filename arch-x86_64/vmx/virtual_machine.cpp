#include "arch-x86_64/vmx/virtual_machine.hpp"

#include "arch-x86_64/cpu/descriptor_tables.hpp"
#include "arch-x86_64/cpu/descriptors.hpp"
#include "arch-x86_64/cpu/intrinsics.hpp"
#include "arch-x86_64/cpu/msr.hpp"
#include "arch-x86_64/vmx/access_bitmaps.hpp"
#include "arch-x86_64/vmx/vmx_controls.hpp"
#include "arch-x86_64/vmx/vmx_instructions.hpp"
#include "hypervisor/console/console.hpp"
#include "hypervisor/devices/pc_platform.hpp"

extern "C" int vmx_run(tandem::x86::GuestRegisters* regs, int launched);
extern "C" char vmx_exit_entry[];

namespace tandem::x86 {
namespace {

constexpr std::uint16_t kVpid = 1;
constexpr std::uint32_t kPatMsr = 0x277;
constexpr std::uint64_t kInveptSingleContext = 1, kInveptAllContexts = 2;
// Exceptions intercepted: #DB and #AC, only to reflect them (vcpu.cpp), and #MC.
constexpr std::uint32_t kExceptionBitmap = (1u << 1) | (1u << 17) | (1u << 18);

Result<std::uint64_t> zeroed_frames(FrameAllocator& frames, std::uint64_t bytes) {
    auto frame = frames.allocate(bytes);
    if (!frame) return frame.error();
    __builtin_memset(reinterpret_cast<void*>(*frame), 0, bytes);
    return *frame;
}

Error vmx_failure(const char* what, VmxStatus s) {
    if (s == VmxStatus::fail_invalid) return Error::of(what);
    return Error::of(what, HardwareVmcs::last_error());
}

void write_host_state(VmcsAccess& v) {
    HostDescriptorTables tables = host_descriptor_tables();
    v.write(vmcs::host_cr0, read_cr0());
    v.write(vmcs::host_cr3, read_cr3());
    v.write(vmcs::host_cr4, read_cr4());
    v.write(vmcs::host_cs_selector, kCodeSelector);
    v.write(vmcs::host_ss_selector, kDataSelector);
    v.write(vmcs::host_ds_selector, kDataSelector);
    v.write(vmcs::host_es_selector, kDataSelector);
    v.write(vmcs::host_fs_selector, 0);
    v.write(vmcs::host_gs_selector, 0);
    v.write(vmcs::host_tr_selector, kTssSelector);
    v.write(vmcs::host_fs_base, 0);
    v.write(vmcs::host_gs_base, 0);
    v.write(vmcs::host_tr_base, tables.tss_base);
    v.write(vmcs::host_gdtr_base, tables.gdt_base);
    v.write(vmcs::host_idtr_base, tables.idt_base);
    v.write(vmcs::host_sysenter_cs, 0);
    v.write(vmcs::host_sysenter_esp, 0);
    v.write(vmcs::host_sysenter_eip, 0);
    v.write(vmcs::host_efer, rdmsr(static_cast<std::uint32_t>(Msr::ia32_efer)));
    v.write(vmcs::host_pat, rdmsr(kPatMsr));
    v.write(vmcs::host_rip, reinterpret_cast<std::uint64_t>(&vmx_exit_entry[0]));
}

}  // namespace

Status VirtualMachine::map_guest_ram(EptBuilder<IdentityTableMemory>& ept, GuestMemory& memory) {
    // Exactly the guest's RAM chunks, write-back, read/write/execute. Nothing else of the
    // machine is reachable from the guest.
    if (auto s = ept.create_root(); !s) return s;
    for (const GuestRamChunk& c : memory.chunks()) {
        if (auto s = ept.map(c.gpa, c.hpa, c.size, kGuestRam, small_pages_); !s) return s;
    }
    return success();
}

void VirtualMachine::invalidate_ept() {
    // Single-context INVEPT when offered, else all contexts (judge_vmx required one of them).
    (void)invept(invept_single_ ? kInveptSingleContext : kInveptAllContexts, eptp_);
}

// The guest-owned MSRs (access_bitmaps.cpp), and the speculation controls the processor has
// (speculation.hpp), go straight to the hardware; every other MSR exits.
void VirtualMachine::fill_msr_bitmap(MsrBitmap& bitmap, bool rdtscp) const {
    const SpeculationPlan& speculation = platform_.speculation();
    std::uint32_t passthrough[16];
    std::size_t count = 0;
    for (std::uint32_t msr : passthrough_msrs(rdtscp)) passthrough[count++] = msr;
    std::uint32_t controls[3];
    std::size_t extra = speculation_passthrough_msrs(speculation.guest_spec_ctrl, speculation.guest_pred_cmd,
                                                     speculation.guest_flush_cmd, controls);
    for (std::size_t i = 0; i < extra; ++i) passthrough[count++] = controls[i];
    build_msr_bitmap(bitmap, {passthrough, count});
}

// What the vCPU's exit handlers need to know of this VM: what CPUID offers, the CR policy, the
// tick, the XSAVE components, the speculation controls.
VcpuConfig VirtualMachine::vcpu_config(const VmSetup& setup, std::uint32_t secondary, const CrPolicy& cr,
                                       PreemptionTimerRate rate, std::uint64_t reload) const {
    VcpuConfig config;
    config.cpuid.tsc_khz = static_cast<std::uint32_t>(setup.tsc_khz);
    config.cpuid.rdtscp = (secondary & proc2::enable_rdtscp) != 0;
    config.cpuid.invpcid = (secondary & proc2::enable_invpcid) != 0;
    config.cpuid.xsaves = (secondary & proc2::enable_xsaves) != 0;
    if (setup.local_apic) {
        ApicTimerClock apic_clock = apic_timer_clock(setup.tsc_khz * 1000);
        config.cpuid.local_apic = true;
        // XSAVES would need IA32_XSS emulated, and Bochs reports a compacted size Linux rejects
        // ("XSAVE consistency problem"): the kernel uses XSAVEOPT/XSAVE and the standard format.
        config.cpuid.xsaves = false;
        config.cpuid.crystal_hz = apic_clock.crystal_hz;
        config.cpuid.tsc_per_crystal = apic_clock.tsc_per_tick;
    }
    config.cr = cr;
    config.preemption_timer_reload = reload;
    config.timer_rate = rate;
    // The state components the guest may enable (xcr0.hpp kXcr0GuestComponents: not MPX, not AMX).
    config.supported_xcr0 = platform_.xsave_layout().guest_xcr0;
    config.cpuid.xcr0_components = platform_.xsave_layout().guest_xcr0;
    config.cpuid.leaf7_edx_speculation = platform_.speculation().guest_leaf7_edx;
    config.arch_capabilities = platform_.speculation_facts().has_arch_capabilities;
    config.arch_capabilities_value = platform_.speculation().guest_arch_capabilities;

    return config;
}

Status VirtualMachine::create(const VmSetup& setup, PortIoBus& io, Writer& console) {
    const VmxCapabilities& caps = setup.caps;
    small_pages_ = setup.small_pages;
    invept_single_ = caps.invept_single_context;
    accessed_dirty_ = caps.ept_accessed_dirty;
    if (auto s = platform_.extended_state(); !s) return s;
    if (auto s = map_guest_ram(ept_, setup.memory); !s) return s;
    eptp_ = ept_pointer(ept_.root(), accessed_dirty_);

    auto controls = compute_vmx_controls(setup.msrs, ControlWishes{setup.pml});
    if (!controls) return controls.error();
    bool vpid = (controls->secondary & proc2::enable_vpid) != 0;

    auto vmcs_region = zeroed_frames(frames_, kPageSize);
    auto msr_bitmap = zeroed_frames(frames_, sizeof(MsrBitmap));
    auto io_bitmaps = zeroed_frames(frames_, sizeof(IoBitmaps));
    auto pml_page = zeroed_frames(frames_, kPageSize);
    if (!vmcs_region || !msr_bitmap || !io_bitmaps || !pml_page) return Error::of("vm: out of memory for the VMCS and bitmaps");
    *reinterpret_cast<volatile std::uint32_t*>(*vmcs_region) = caps.vmcs_revision;
    if (VmxStatus s = vmclear(*vmcs_region); s != VmxStatus::ok) return vmx_failure("VMCLEAR failed", s);
    if (VmxStatus s = vmptrld(*vmcs_region); s != VmxStatus::ok) return vmx_failure("VMPTRLD failed", s);

    fill_msr_bitmap(*reinterpret_cast<MsrBitmap*>(*msr_bitmap), (controls->secondary & proc2::enable_rdtscp) != 0);
    entry_barrier_.configure(platform_.speculation());
    build_io_bitmaps(*reinterpret_cast<IoBitmaps*>(*io_bitmaps), passthrough_ports());

    HardwareVmcs& v = vmcs_;
    v.write(vmcs::pin_based_controls, controls->pin);
    v.write(vmcs::primary_controls, controls->primary);
    v.write(vmcs::secondary_controls, controls->secondary);
    v.write(vmcs::exit_controls, controls->exit);
    v.write(vmcs::entry_controls, controls->entry);
    v.write(vmcs::exception_bitmap, kExceptionBitmap);
    v.write(vmcs::page_fault_error_mask, 0);
    v.write(vmcs::page_fault_error_match, 0);
    v.write(vmcs::cr3_target_count, 0);
    v.write(vmcs::exit_msr_store_count, 0);
    v.write(vmcs::exit_msr_load_count, 0);
    v.write(vmcs::entry_msr_load_count, 0);
    v.write(vmcs::entry_interruption_info, 0);
    v.write(vmcs::msr_bitmap, *msr_bitmap);
    v.write(vmcs::io_bitmap_a, *io_bitmaps);
    v.write(vmcs::io_bitmap_b, *io_bitmaps + 4096);
    v.write(vmcs::ept_pointer, eptp_);
    v.write(vmcs::tsc_offset, 0);
    if (vpid) v.write(vmcs::vpid, kVpid);
    if (setup.pml) {
        v.write(vmcs::pml_address, *pml_page);
        v.write(vmcs::guest_pml_index, dirty::PmlLog::kEntries - 1);
        pml_log_.attach(*pml_page, vmcs_);
        pml_enabled_ = true;
    }

    // The periodic tick in timer units (preemption_timer.hpp: the rate from IA32_VMX_MISC).
    PreemptionTimerRate rate{caps.preemption_timer_shift};
    std::uint64_t reload = rate.units_for_ms(setup.timer_period_ms, setup.tsc_khz);
    tsc_khz_ = setup.tsc_khz;
    latency_.set_watchdog(kWatchdogBoundMs * setup.tsc_khz, kWatchdogQuietMs * setup.tsc_khz);
    v.write(vmcs::preemption_timer_value, reload);

    write_host_state(v);
    CrPolicy cr = cr_policy(setup.msrs);
    GuestRegisters regs{};
    write_guest_entry_state(v, regs, setup.entry, cr);

    // Nothing may be cached for this EPT or VPID from an earlier life of the processor.
    VmxStatus inv = invept(caps.invept_all_contexts ? kInveptAllContexts : kInveptSingleContext, eptp_);
    if (inv != VmxStatus::ok) return vmx_failure("INVEPT failed", inv);
    if (vpid && caps.invvpid) {
        if (VmxStatus s = invvpid(1, kVpid); s != VmxStatus::ok) return vmx_failure("INVVPID failed", s);
    }

    VcpuConfig config = vcpu_config(setup, controls->secondary, cr, rate, reload);
    static Vcpu vcpu(vmcs_, setup.memory, io, platform_, console, config);
    vcpu_ = &vcpu;
    vcpu.regs() = regs;
    println(console, "vm: EPT over {} of guest RAM in {} chunk(s) with {} pages, {} tables; VPID {}; PML {}; "
                     "controls pin {} primary {} secondary {} exit {} entry {}",
            Bytes{setup.memory.size()}, setup.memory.chunks().size(), small_pages_ ? "4 KiB" : "2 MiB",
            tables_.tables(), YesNo{vpid}, YesNo{pml_enabled_}, hex(controls->pin), hex(controls->primary),
            hex(controls->secondary), hex(controls->exit), hex(v.read(vmcs::entry_controls)));
    return success();
}

Status VirtualMachine::use_memory(GuestMemory& memory) {
    if (auto s = map_guest_ram(failover_ept_, memory); !s) return s;
    eptp_ = ept_pointer(failover_ept_.root(), accessed_dirty_);
    vmcs_.write(vmcs::ept_pointer, eptp_);
    dirty_control_.retarget(failover_ept_);
    vcpu_->set_memory(memory);
    (void)invept(kInveptAllContexts, eptp_);
    return success();
}

// The watchdog's line (exit_latency.hpp): which exit held the guest, how long, against what.
void VirtualMachine::report_overrun() {
    std::uint64_t khz = tsc_khz_ == 0 ? 1 : tsc_khz_;
    println(console(), "vm: watchdog: handling a {} exit held the guest {} us (bound {} us; {} such exits so far): "
                       "the link and heartbeats waited as long",
            exit_reason_name(latency_.last_reason()), latency_.last_tsc() * 1000 / khz,
            kWatchdogBoundMs * 1000, latency_.over_bound());
}

GuestRunResult VirtualMachine::run() {
    Vcpu& vcpu = *vcpu_;
    while (vcpu.running()) {
        vcpu.prepare_entry();
        if (!vcpu.running()) break;
        // From the exit to here is what the guest waited on tandem (exit_latency.hpp).
        std::uint64_t resuming_at = rdtsc();
        latency_.resuming(resuming_at, vcpu.last_exit_reason());
        if (latency_.overran(resuming_at)) report_overrun();
        entry_barrier_.before_entry();
        int status = vmx_run(&vcpu.regs(), launched_ ? 1 : 0);
        latency_.exited(rdtsc());
        if (status != 0) {
            std::uint32_t error = status == 2 ? HardwareVmcs::last_error() : 0;
            println(console(), "vm: {} failed: {}", launched_ ? "VMRESUME" : "VMLAUNCH",
                    status == 2 ? vm_instruction_error_name(error) : "VMfailInvalid (no current VMCS)");
            vcpu.stop("VM entry failed");
            break;
        }
        launched_ = true;
        vcpu.handle_exit();
        if (vcpu.ticked()) {
            for (std::size_t i = 0; i < tick_count_; ++i) tick_listeners_[i]->on_tick();
        }
        if (after_exit_ != nullptr) after_exit_->on_tick();
    }
    latency_.run_ended();
    return GuestRunResult{vcpu.end(), vcpu.stats()};
}

}  // namespace tandem::x86
