// A protected pair (mode=checkpoint, DESIGN §1, §3, §5): the primary runs the guest and streams
// every epoch over the replication link; guest network output of epoch N leaves only once the
// backup acknowledged N. The backup stages and applies each epoch and acknowledges it; when the
// primary falls silent for failover_ms, and does not answer a probe on the client network either
// (split-brain guard), the backup promotes: it restores the last committed epoch, announces the
// guest's addresses with gratuitous ARP and runs the guest, unprotected, accepting a new backup
// (re-protection: a full copy while the guest runs, then continuous epochs). A primary that
// loses its backup keeps serving, unprotected, and says so.
#pragma once

#include "arch-x86_64/boot/boot_info.hpp"
#include "arch-x86_64/vmx/vmx_capabilities.hpp"
#include "hypervisor/config/config.hpp"
#include "hypervisor/memory/frame_allocator.hpp"

namespace tandem::x86 {

struct PairContext {
    const Config& config;
    const boot::BootInfo& boot;
    FrameAllocator& frames;
    const VmxCapabilityMsrs& msrs;
    const VmxCapabilities& caps;
    std::uint64_t tsc_khz;
};

// Never returns while the pair runs; returns only if it could not start (after saying why).
void run_pair(const PairContext& context);

}  // namespace tandem::x86
