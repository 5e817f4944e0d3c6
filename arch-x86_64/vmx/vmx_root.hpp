// Entering VMX root operation on this processor (Intel SDM Vol. 3C §24.7-§24.8): firmware must
// allow VMX (IA32_FEATURE_CONTROL; tandem locks it with VMX enabled if the firmware left it
// unlocked), CR0 and CR4 must satisfy the VMX fixed bits (CR4.VMXE among them), and VMXON
// needs a 4 KiB region stamped with the VMCS revision identifier.
#pragma once

#include "arch-x86_64/vmx/vmx_capabilities.hpp"
#include "hypervisor/memory/frame_allocator.hpp"
#include "hypervisor/util/result.hpp"

namespace tandem::x86 {

Status enter_vmx_root(const VmxCapabilityMsrs& msrs, const VmxCapabilities& caps, FrameAllocator& frames);

}  // namespace tandem::x86
