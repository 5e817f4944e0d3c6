// The replication link on this machine: the transport over the link NIC, its key from key= or a
// GRUB module named link_key, a session id from RDRAND (or the TSC), and the link self-test
// (mode=linktest) that streams data both ways and reports throughput, retransmits and rejected
// frames. tandem keeps serving the link and its console afterwards (it never halts here).
#pragma once

#include "arch-x86_64/boot/boot_info.hpp"
#include "hypervisor/config/config.hpp"
#include "nic-drivers/nic.hpp"

namespace tandem::x86 {

[[noreturn]] void run_linktest(const Config& config, const boot::BootInfo& boot, nic::Nic& link, std::uint64_t tsc_khz);

}  // namespace tandem::x86
