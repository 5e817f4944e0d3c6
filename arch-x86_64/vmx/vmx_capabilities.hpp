// What the processor's VT-x offers, decoded from CPUID and the VMX capability MSRs (Intel SDM
// Vol. 3D Appendix A), and the verdict on whether tandem can run on it. Decoding is portable:
// host tests feed it MSR values captured from the emulator's CPU models.
#pragma once

#include <cstdint>

#include "hypervisor/config/vocabulary.hpp"
#include "hypervisor/console/writer.hpp"

namespace tandem::x86 {

// Raw values as read from the CPU. A field is meaningful only when the reader could read it:
// the MSRs exist only on CPUs that advertise them (see capability_probe.cpp).
struct VmxCapabilityMsrs {
    bool cpuid_vmx = false;          // CPUID.1:ECX[5]
    std::uint64_t feature_control = 0;
    std::uint64_t basic = 0;
    std::uint64_t pinbased = 0;      // the TRUE_ variant when IA32_VMX_BASIC[55] says it exists
    std::uint64_t procbased = 0;
    std::uint64_t procbased2 = 0;    // 0 when there are no secondary controls
    std::uint64_t exit = 0;
    std::uint64_t entry = 0;
    std::uint64_t misc = 0;
    std::uint64_t ept_vpid_cap = 0;  // 0 when neither EPT nor VPID can be enabled
    // CR0/CR4 bits VMX operation fixes (SDM Vol. 3D §A.7, §A.8): a 1 in FIXED0 must be 1, a 0 in
    // FIXED1 must be 0.
    std::uint64_t cr0_fixed0 = 0, cr0_fixed1 = 0, cr4_fixed0 = 0, cr4_fixed1 = 0;
};

struct VmxCapabilities {
    bool vmx = false;
    bool feature_control_locked = false;
    bool vmx_enabled_by_firmware = false;  // IA32_FEATURE_CONTROL[2]
    std::uint32_t vmcs_revision = 0;
    std::uint32_t vmcs_size = 0;
    bool vmcs_write_back = false;
    bool vmcs_32bit_addresses = false;
    bool true_controls = false;
    bool io_bitmaps = false;
    bool msr_bitmaps = false;
    bool secondary_controls = false;
    bool preemption_timer = false;
    unsigned preemption_timer_shift = 0;   // timer ticks once every 2^shift TSC cycles
    bool ept = false;
    bool ept_walk_4 = false;
    bool ept_write_back = false;
    bool ept_2m_pages = false;
    bool ept_1g_pages = false;
    bool ept_accessed_dirty = false;
    bool invept = false;
    bool invept_single_context = false;
    bool invept_all_contexts = false;
    bool pml = false;
    bool vpid = false;
    bool invvpid = false;
    bool unrestricted_guest = false;
};

VmxCapabilities decode_vmx_capabilities(const VmxCapabilityMsrs& msrs);

struct VmxVerdict {
    bool usable = false;
    const char* refusal = nullptr;  // "VT-x not available: ..." when not usable
    DirtyTracking dirty = DirtyTracking::automatic;  // best strategy the hardware offers
};

VmxVerdict judge_vmx(const VmxCapabilities& caps);

// The boot report: one line of raw MSRs (for bug reports and test fixtures) and readable lines.
void report_vmx(Writer& out, const VmxCapabilityMsrs& msrs, const VmxCapabilities& caps, const VmxVerdict& verdict);

}  // namespace tandem::x86
