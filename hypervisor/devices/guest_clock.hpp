// The guest's time as the device models see it: the guest's TSC (host TSC plus the VMCS TSC
// offset), read at the moment of an access. Every timer model (local APIC, PIT, RTC) counts from
// it, so the guest's devices and its RDTSC agree, and a restored model continues on the same
// time line (the backup keeps the guest TSC monotonic when it takes over).
#pragma once

#include <cstdint>

namespace tandem {

class GuestClock {
public:
    virtual std::uint64_t guest_tsc() const = 0;

protected:
    ~GuestClock() = default;
};

}  // namespace tandem
