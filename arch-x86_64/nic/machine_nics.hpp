// The machine's NICs: of the PCI functions the boot report enumerated (machine_pci.hpp, ECAM or
// configuration mechanism #1), every NIC a driver knows probed with its registers mapped uncached and its rings in frames from the allocator,
// then the replication-link NIC and the client NIC chosen by link_nic= / client_nic= (PCI
// address or MAC), with a clear message naming what was found when a choice cannot be met.
#pragma once

#include "hypervisor/config/config.hpp"
#include "hypervisor/memory/frame_allocator.hpp"
#include "nic-drivers/nic.hpp"

namespace tandem::x86 {

struct MachineNics {
    nic::Nic* link = nullptr;
    nic::Nic* client = nullptr;
    std::size_t probed = 0;
};

// Enumerates, lists and probes. `need_link`/`need_client`: whether the mode requires them (a
// missing required NIC is an error; an optional one is reported).
Result<MachineNics> setup_nics(const Config& config, FrameAllocator& frames, std::uint64_t tsc_khz, bool need_link,
                               bool need_client);

}  // namespace tandem::x86
