// Running the guest on this processor: builds EPT, the VMCS and the bitmaps from frames of the
// allocator (none of which the guest can reach), enters the guest and handles its exits until
// it ends. Requires VMX root operation (vmx_root.hpp).
#pragma once

#include "arch-x86_64/vmx/vcpu.hpp"
#include "arch-x86_64/vmx/vmx_capabilities.hpp"
#include "hypervisor/memory/frame_allocator.hpp"

namespace tandem::x86 {

struct VmSetup {
    const VmxCapabilityMsrs& msrs;
    const VmxCapabilities& caps;
    FrameAllocator& frames;
    GuestMemory& memory;
    GuestEntry entry;
    std::uint64_t tsc_khz;
};

struct GuestRunResult {
    GuestEnd end;
    VcpuStats stats;
};

Result<GuestRunResult> run_guest(const VmSetup& setup, PortIoBus& io, Writer& console);

}  // namespace tandem::x86
