// Where the checkpoint engine gets the non-memory state of the guest: the vCPU (captured from
// the VMCS and the registers by arch-x86_64) and the device models.
#pragma once

#include <cstddef>

#include "hypervisor/devices/device_state.hpp"
#include "replication/checkpoint/cpu_state.hpp"

namespace tandem::engine {

class StateSource {
public:
    virtual Status capture_cpu(checkpoint::CpuState& out) = 0;
    virtual std::size_t device_count() const = 0;
    virtual StatefulDevice& device(std::size_t index) = 0;

protected:
    ~StateSource() = default;
};

class TickClock {
public:
    virtual std::uint64_t now() const = 0;  // TSC ticks

protected:
    ~TickClock() = default;
};

}  // namespace tandem::engine
