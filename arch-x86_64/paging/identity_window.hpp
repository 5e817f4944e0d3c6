// Host-physical memory as the hypervisor reaches it: identity-mapped (host_paging.cpp maps all
// RAM at its physical address).
#pragma once

#include "hypervisor/vm/guest_memory.hpp"

namespace tandem::x86 {

class IdentityWindow final : public HostMemoryWindow {
public:
    std::uint8_t* at(std::uint64_t hpa, std::size_t) const override { return reinterpret_cast<std::uint8_t*>(hpa); }
};

inline const IdentityWindow& identity_window() {
    static constinit IdentityWindow window;
    return window;
}

}  // namespace tandem::x86
