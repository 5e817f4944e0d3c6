// VmcsAccess on the current VMCS of this processor, with VMREAD/VMWRITE. A failure here means
// tandem asked for a field the processor does not have or wrote a read-only one: a bug, so it
// stops the hypervisor naming the field and the VM-instruction error.
#pragma once

#include "arch-x86_64/vmx/exit_reason.hpp"
#include "arch-x86_64/vmx/vmcs_access.hpp"
#include "arch-x86_64/vmx/vmx_instructions.hpp"
#include "hypervisor/runtime/panic.hpp"

namespace tandem::x86 {

class HardwareVmcs final : public VmcsAccess {
public:
    std::uint64_t read(VmcsField field) const override {
        std::uint64_t value = 0;
        if (VmxStatus s = vmread(field, value); s != VmxStatus::ok) fail("VMREAD", field, s);
        return value;
    }
    void write(VmcsField field, std::uint64_t value) override {
        if (VmxStatus s = vmwrite(field, value); s != VmxStatus::ok) fail("VMWRITE", field, s);
    }

    // The VM-instruction error number of the last failed VMX instruction (SDM Vol. 3C §31.4).
    static std::uint32_t last_error() {
        std::uint64_t value = 0;
        if (vmread(vmcs::vm_instruction_error, value) != VmxStatus::ok) return 0;
        return static_cast<std::uint32_t>(value);
    }

private:
    [[noreturn]] static void fail(const char* what, VmcsField field, VmxStatus s) {
        if (s == VmxStatus::fail_invalid) panic("{} of VMCS field {} failed: no current VMCS", what, hex(encoding(field), 4));
        std::uint32_t error = last_error();
        panic("{} of VMCS field {} failed: VM-instruction error {} ({})", what, hex(encoding(field), 4), error,
              vm_instruction_error_name(error));
    }
};

}  // namespace tandem::x86
