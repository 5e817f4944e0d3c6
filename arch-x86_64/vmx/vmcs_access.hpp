// Reading and writing the current VMCS through an interface, so everything that interprets
// VMCS contents (entry state, exit handling, checkpoint capture) is portable and runs in host
// tests against a fake VMCS. The machine's implementation (vmcs_hardware.hpp) uses VMREAD and
// VMWRITE and stops the hypervisor with the VM-instruction error if either fails.
#pragma once

#include <cstdint>

#include "arch-x86_64/vmx/vmcs_fields.hpp"

namespace tandem::x86 {

class VmcsAccess {
public:
    virtual std::uint64_t read(VmcsField field) const = 0;
    virtual void write(VmcsField field, std::uint64_t value) = 0;

protected:
    ~VmcsAccess() = default;
};

}  // namespace tandem::x86
