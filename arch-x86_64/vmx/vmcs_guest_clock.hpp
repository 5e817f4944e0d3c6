// The guest's TSC for the device models (guest_clock.hpp): the host TSC plus the VMCS TSC offset
// (Intel SDM Vol. 3C §26.6.5), read at the moment a model asks.
#pragma once

#include "arch-x86_64/vmx/vcpu.hpp"
#include "arch-x86_64/vmx/vmcs_access.hpp"
#include "hypervisor/devices/guest_clock.hpp"

namespace tandem::x86 {

class VmcsGuestClock final : public GuestClock {
public:
    VmcsGuestClock(VmcsAccess& vmcs, const VcpuPlatform& platform) : vmcs_(vmcs), platform_(platform) {}
    std::uint64_t guest_tsc() const override { return platform_.read_tsc() + vmcs_.read(vmcs::tsc_offset); }

private:
    VmcsAccess& vmcs_;
    const VcpuPlatform& platform_;
};

}  // namespace tandem::x86
