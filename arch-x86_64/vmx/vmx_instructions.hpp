// The VMX instructions, each with its result checked (Intel SDM Vol. 3C §31.2: CF=1 is
// VMfailInvalid, ZF=1 is VMfailValid with the error number in the VM-instruction error field).
#pragma once

#include <cstdint>

#include "arch-x86_64/vmx/vmcs_fields.hpp"

namespace tandem::x86 {

enum class VmxStatus : std::uint8_t { ok, fail_invalid, fail_valid };

namespace detail {
inline VmxStatus vmx_status(std::uint8_t cf, std::uint8_t zf) {
    return cf ? VmxStatus::fail_invalid : zf ? VmxStatus::fail_valid : VmxStatus::ok;
}
}  // namespace detail

[[nodiscard]] inline VmxStatus vmxon(std::uint64_t region) {
    std::uint8_t cf, zf;
    asm volatile("vmxon %[r]; setc %[cf]; setz %[zf]" : [cf] "=r"(cf), [zf] "=r"(zf) : [r] "m"(region) : "cc", "memory");
    return detail::vmx_status(cf, zf);
}

[[nodiscard]] inline VmxStatus vmclear(std::uint64_t vmcs) {
    std::uint8_t cf, zf;
    asm volatile("vmclear %[r]; setc %[cf]; setz %[zf]" : [cf] "=r"(cf), [zf] "=r"(zf) : [r] "m"(vmcs) : "cc", "memory");
    return detail::vmx_status(cf, zf);
}

[[nodiscard]] inline VmxStatus vmptrld(std::uint64_t vmcs) {
    std::uint8_t cf, zf;
    asm volatile("vmptrld %[r]; setc %[cf]; setz %[zf]" : [cf] "=r"(cf), [zf] "=r"(zf) : [r] "m"(vmcs) : "cc", "memory");
    return detail::vmx_status(cf, zf);
}

[[nodiscard]] inline VmxStatus vmread(VmcsField field, std::uint64_t& value) {
    std::uint8_t cf, zf;
    asm volatile("vmread %[f], %[v]; setc %[cf]; setz %[zf]"
                 : [v] "=r"(value), [cf] "=r"(cf), [zf] "=r"(zf)
                 : [f] "r"(static_cast<std::uint64_t>(encoding(field)))
                 : "cc");
    return detail::vmx_status(cf, zf);
}

[[nodiscard]] inline VmxStatus vmwrite(VmcsField field, std::uint64_t value) {
    std::uint8_t cf, zf;
    asm volatile("vmwrite %[v], %[f]; setc %[cf]; setz %[zf]"
                 : [cf] "=r"(cf), [zf] "=r"(zf)
                 : [f] "r"(static_cast<std::uint64_t>(encoding(field))), [v] "rm"(value)
                 : "cc", "memory");
    return detail::vmx_status(cf, zf);
}

struct [[gnu::packed]] InvalidationDescriptor {
    std::uint64_t low;
    std::uint64_t high;
};
static_assert(sizeof(InvalidationDescriptor) == 16);

// INVEPT types (SDM Vol. 3C §31.3): 1 = single context, 2 = all contexts.
[[nodiscard]] inline VmxStatus invept(std::uint64_t type, std::uint64_t eptp) {
    InvalidationDescriptor d{eptp, 0};
    std::uint8_t cf, zf;
    asm volatile("invept %[d], %[t]; setc %[cf]; setz %[zf]" : [cf] "=r"(cf), [zf] "=r"(zf) : [d] "m"(d), [t] "r"(type)
                 : "cc", "memory");
    return detail::vmx_status(cf, zf);
}

// INVVPID types: 1 = single context, 2 = all contexts.
[[nodiscard]] inline VmxStatus invvpid(std::uint64_t type, std::uint16_t vpid) {
    InvalidationDescriptor d{vpid, 0};
    std::uint8_t cf, zf;
    asm volatile("invvpid %[d], %[t]; setc %[cf]; setz %[zf]" : [cf] "=r"(cf), [zf] "=r"(zf) : [d] "m"(d), [t] "r"(type)
                 : "cc", "memory");
    return detail::vmx_status(cf, zf);
}

}  // namespace tandem::x86
