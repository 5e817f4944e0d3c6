// What the vCPU needs from the interrupt controllers and timers of a guest that has them (an
// unmodified kernel; tandem's own test guests have none): the local APIC's MSRs, the vector to
// inject next, and when the next timer fires, so the VMX-preemption timer can wake the guest
// then. The vCPU injects at most one vector per VM entry, when the guest can take it (RFLAGS.IF
// set, no STI or MOV SS blocking; Intel SDM Vol. 3C §27.6.2), and otherwise asks for an
// interrupt-window exit.
#pragma once

#include <cstdint>
#include <optional>

#include "hypervisor/console/writer.hpp"
#include "hypervisor/util/result.hpp"

namespace tandem {

class GuestInterruptSource {
public:
    virtual bool handles_msr(std::uint32_t msr) const = 0;
    // An error is a #GP(0) for the guest.
    virtual Result<std::uint64_t> read_msr(std::uint32_t msr) = 0;
    virtual Status write_msr(std::uint32_t msr, std::uint64_t value) = 0;
    // Brings every timer up to guest_tsc (expiries go into the interrupt controllers).
    virtual void advance(std::uint64_t guest_tsc) = 0;
    virtual std::optional<std::uint8_t> pending_vector() const = 0;
    // Takes pending_vector() into service as its injection starts.
    virtual std::optional<std::uint8_t> acknowledge() = 0;
    // The guest TSC at which a timer fires next, if one is armed.
    virtual std::optional<std::uint64_t> next_deadline() const = 0;
    // Whether an interrupt is requested (the IRR holds a vector), deliverable now or not.
    virtual bool has_requests() const = 0;
    // The interrupt state in one line's worth of words, for the vCPU's diagnostics.
    virtual void describe(Writer& out, std::uint64_t guest_tsc) const = 0;

protected:
    ~GuestInterruptSource() = default;
};

}  // namespace tandem
