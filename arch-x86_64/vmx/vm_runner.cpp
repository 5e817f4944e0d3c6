// Builds the one VM on this processor (EPT over guest RAM, VMCS with computed controls, host
// state, access bitmaps, the guest's entry state) and runs it until the guest ends.
#include "arch-x86_64/vmx/vm_runner.hpp"

#include "arch-x86_64/cpu/descriptor_tables.hpp"
#include "arch-x86_64/cpu/descriptors.hpp"
#include "arch-x86_64/cpu/intrinsics.hpp"
#include "arch-x86_64/cpu/msr.hpp"
#include "arch-x86_64/paging/identity_table_memory.hpp"
#include "arch-x86_64/vmx/access_bitmaps.hpp"
#include "arch-x86_64/vmx/ept.hpp"
#include "arch-x86_64/vmx/vmcs_hardware.hpp"
#include "arch-x86_64/vmx/vmx_controls.hpp"
#include "arch-x86_64/vmx/vmx_instructions.hpp"

extern "C" int vmx_run(tandem::x86::GuestRegisters* regs, int launched);
extern "C" char vmx_exit_entry[];

namespace tandem::x86 {
namespace {

constexpr std::uint16_t kVpid = 1;
constexpr std::uint32_t kPatMsr = 0x277;
constexpr std::uint64_t kInveptAllContexts = 2, kInveptSingleContext = 1;
constexpr std::uint64_t kTimerPeriodMs = 10;
// Exceptions intercepted: #DB and #AC, only to reflect them (vcpu.cpp), and #MC.
constexpr std::uint32_t kExceptionBitmap = (1u << 1) | (1u << 17) | (1u << 18);

class MachinePlatform final : public VcpuPlatform {
public:
    CpuidValues cpuid(std::uint32_t leaf, std::uint32_t subleaf) const override {
        CpuidResult r = x86::cpuid(leaf, subleaf);
        return {r.eax, r.ebx, r.ecx, r.edx};
    }
    std::uint64_t read_tsc() const override { return rdtsc(); }
    bool set_xcr0(std::uint64_t value) override {
        asm volatile("xsetbv" ::"c"(0), "a"(static_cast<std::uint32_t>(value)),
                     "d"(static_cast<std::uint32_t>(value >> 32)));
        return true;
    }
};

Result<std::uint64_t> zeroed_frames(FrameAllocator& frames, std::uint64_t bytes) {
    auto frame = frames.allocate(bytes);
    if (!frame) return frame.error();
    __builtin_memset(reinterpret_cast<void*>(*frame), 0, bytes);
    return *frame;
}

Status vmx_failure(const char* what, VmxStatus s) {
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

Result<GuestRunResult> run_guest(const VmSetup& setup, PortIoBus& io, Writer& console) {
    const VmxCapabilities& caps = setup.caps;

    // EPT: exactly the guest's RAM chunks, write-back, read/write/execute. Nothing else of the
    // machine is reachable from the guest.
    IdentityTableMemory table_memory(setup.frames);
    EptBuilder<IdentityTableMemory> ept(table_memory);
    if (auto s = ept.create_root(); !s) return s.error();
    for (const GuestRamChunk& c : setup.memory.chunks()) {
        if (auto s = ept.map(c.gpa, c.hpa, c.size, kGuestRam); !s) return s.error();
    }
    std::uint64_t eptp = ept_pointer(ept.root(), caps.ept_accessed_dirty);

    auto controls = compute_vmx_controls(setup.msrs, ControlWishes{});
    if (!controls) return controls.error();
    bool vpid = (controls->secondary & proc2::enable_vpid) != 0;

    auto vmcs_region = zeroed_frames(setup.frames, kPageSize);
    auto msr_bitmap = zeroed_frames(setup.frames, sizeof(MsrBitmap));
    auto io_bitmaps = zeroed_frames(setup.frames, sizeof(IoBitmaps));
    if (!vmcs_region || !msr_bitmap || !io_bitmaps) return Error::of("vm: out of memory for the VMCS and bitmaps");
    *reinterpret_cast<volatile std::uint32_t*>(*vmcs_region) = caps.vmcs_revision;
    if (VmxStatus s = vmclear(*vmcs_region); s != VmxStatus::ok) return vmx_failure("VMCLEAR failed", s).error();
    if (VmxStatus s = vmptrld(*vmcs_region); s != VmxStatus::ok) return vmx_failure("VMPTRLD failed", s).error();

    build_msr_bitmap(*reinterpret_cast<MsrBitmap*>(*msr_bitmap),
                     passthrough_msrs((controls->secondary & proc2::enable_rdtscp) != 0));
    build_io_bitmaps(*reinterpret_cast<IoBitmaps*>(*io_bitmaps), passthrough_ports());

    HardwareVmcs vmcs;
    vmcs.write(vmcs::pin_based_controls, controls->pin);
    vmcs.write(vmcs::primary_controls, controls->primary);
    vmcs.write(vmcs::secondary_controls, controls->secondary);
    vmcs.write(vmcs::exit_controls, controls->exit);
    vmcs.write(vmcs::entry_controls, controls->entry);
    vmcs.write(vmcs::exception_bitmap, kExceptionBitmap);
    vmcs.write(vmcs::page_fault_error_mask, 0);
    vmcs.write(vmcs::page_fault_error_match, 0);
    vmcs.write(vmcs::cr3_target_count, 0);
    vmcs.write(vmcs::exit_msr_store_count, 0);
    vmcs.write(vmcs::exit_msr_load_count, 0);
    vmcs.write(vmcs::entry_msr_load_count, 0);
    vmcs.write(vmcs::entry_interruption_info, 0);
    vmcs.write(vmcs::msr_bitmap, *msr_bitmap);
    vmcs.write(vmcs::io_bitmap_a, *io_bitmaps);
    vmcs.write(vmcs::io_bitmap_b, *io_bitmaps + 4096);
    vmcs.write(vmcs::ept_pointer, eptp);
    vmcs.write(vmcs::tsc_offset, 0);
    if (vpid) vmcs.write(vmcs::vpid, kVpid);

    // The preemption timer counts down at the TSC rate divided by 2^shift (SDM Vol. 3C §26.5.1).
    std::uint64_t reload = setup.tsc_khz * kTimerPeriodMs >> caps.preemption_timer_shift;
    if (reload == 0 || reload > 0xffffffffu) reload = 0xffffffffu;
    vmcs.write(vmcs::preemption_timer_value, reload);

    write_host_state(vmcs);
    CrPolicy cr = cr_policy(setup.msrs);
    GuestRegisters regs{};
    write_guest_entry_state(vmcs, regs, setup.entry, cr);

    // Nothing may be cached for this EPT or VPID from an earlier life of the processor.
    VmxStatus inv = invept(caps.invept_all_contexts ? kInveptAllContexts : kInveptSingleContext, eptp);
    if (inv != VmxStatus::ok) return vmx_failure("INVEPT failed", inv).error();
    if (vpid && caps.invvpid) {
        if (VmxStatus s = invvpid(1, kVpid); s != VmxStatus::ok) return vmx_failure("INVVPID failed", s).error();
    }

    VcpuConfig config;
    config.cpuid.tsc_khz = static_cast<std::uint32_t>(setup.tsc_khz);
    config.cpuid.rdtscp = (controls->secondary & proc2::enable_rdtscp) != 0;
    config.cpuid.invpcid = (controls->secondary & proc2::enable_invpcid) != 0;
    config.cpuid.xsaves = (controls->secondary & proc2::enable_xsaves) != 0;
    config.cr = cr;
    config.preemption_timer_reload = reload;
    CpuidResult xcr0 = cpuid(0xd, 0);
    config.supported_xcr0 = (static_cast<std::uint64_t>(xcr0.edx) << 32) | xcr0.eax;

    MachinePlatform platform;
    Vcpu vcpu(vmcs, setup.memory, io, platform, console, config);
    vcpu.regs() = regs;
    println(console, "vm: EPT over {} of guest RAM in {} chunk(s), {} tables; VPID {}; controls pin {} primary {} "
                     "secondary {} exit {} entry {}",
            Bytes{setup.memory.size()}, setup.memory.chunks().size(), table_memory.tables(), YesNo{vpid},
            hex(controls->pin), hex(controls->primary), hex(controls->secondary), hex(controls->exit),
            hex(vmcs.read(vmcs::entry_controls)));

    int launched = 0;
    while (vcpu.running()) {
        int status = vmx_run(&vcpu.regs(), launched);
        if (status != 0) {
            std::uint32_t error = status == 2 ? HardwareVmcs::last_error() : 0;
            println(console, "vm: {} failed: {}", launched ? "VMRESUME" : "VMLAUNCH",
                    status == 2 ? vm_instruction_error_name(error) : "VMfailInvalid (no current VMCS)");
            vcpu.stop("VM entry failed");
            break;
        }
        launched = 1;
        vcpu.handle_exit();
    }
    return GuestRunResult{vcpu.end(), vcpu.stats()};
}

}  // namespace tandem::x86
