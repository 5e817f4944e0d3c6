// Reads CPUID and the VMX capability MSRs of this processor, touching only MSRs the processor
// says exist (reading an absent MSR raises #GP).
#pragma once

#include "arch-x86_64/vmx/vmx_capabilities.hpp"

namespace tandem::x86 {

VmxCapabilityMsrs read_vmx_capability_msrs();

}  // namespace tandem::x86
