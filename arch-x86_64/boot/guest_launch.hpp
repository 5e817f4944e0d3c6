// Starting the configured guest: find its module, load the ELF image into fresh guest RAM,
// write the test-guest boot data, enter it in the chosen mode and run it to its end, then say
// how it ended. Every problem is reported with what was expected.
#pragma once

#include "arch-x86_64/boot/boot_info.hpp"
#include "arch-x86_64/vmx/vmx_capabilities.hpp"
#include "hypervisor/config/config.hpp"
#include "hypervisor/memory/frame_allocator.hpp"

namespace tandem::x86 {

struct LaunchContext {
    const Config& config;
    const boot::BootInfo& boot;
    FrameAllocator& frames;
    const VmxCapabilityMsrs& msrs;
    const VmxCapabilities& caps;
    std::uint64_t tsc_khz;
};

// Returns when the guest has ended (or could not start); the console says which.
void launch_guest(const LaunchContext& context);

}  // namespace tandem::x86
