// Model-specific register numbers the image uses (Intel SDM Vol. 4, Table 2-2).
#pragma once

#include <cstdint>

namespace tandem::x86 {

enum class Msr : std::uint32_t {
    ia32_feature_control = 0x3a,
    ia32_vmx_basic = 0x480,
    ia32_vmx_pinbased_ctls = 0x481,
    ia32_vmx_procbased_ctls = 0x482,
    ia32_vmx_exit_ctls = 0x483,
    ia32_vmx_entry_ctls = 0x484,
    ia32_vmx_misc = 0x485,
    ia32_vmx_cr0_fixed0 = 0x486,
    ia32_vmx_cr0_fixed1 = 0x487,
    ia32_vmx_cr4_fixed0 = 0x488,
    ia32_vmx_cr4_fixed1 = 0x489,
    ia32_vmx_procbased_ctls2 = 0x48b,
    ia32_vmx_ept_vpid_cap = 0x48c,
    ia32_vmx_true_pinbased_ctls = 0x48d,
    ia32_vmx_true_procbased_ctls = 0x48e,
    ia32_vmx_true_exit_ctls = 0x48f,
    ia32_vmx_true_entry_ctls = 0x490,
    ia32_efer = 0xc0000080,
};

}  // namespace tandem::x86
