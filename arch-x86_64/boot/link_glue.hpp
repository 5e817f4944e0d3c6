// The replication link's pieces that depend on this machine (X86Machine hands them to the
// sessions): the transport's clock on the TSC, the link key (key= or a GRUB module named
// link_key holding 64 hex digits) and fresh session ids.
#pragma once

#include "arch-x86_64/boot/boot_info.hpp"
#include "hypervisor/config/config.hpp"
#include "hypervisor/net/mac_address.hpp"
#include "replication/link/link_interfaces.hpp"
#include "replication/link/link_keys.hpp"

namespace tandem::x86 {

class TscClock final : public link::Clock {
public:
    explicit TscClock(std::uint64_t khz) : khz_(khz == 0 ? 1'000'000 : khz) {}
    std::uint64_t now_ns() override;

private:
    std::uint64_t khz_;
};

Result<link::LinkSecret> link_secret(const Config& config, const boot::BootInfo& boot);
// RDRAND where the processor has it, else the TSC scrambled (link_keys.hpp explains why a
// repeat on one side alone is harmless).
std::uint64_t session_id();
// Mixes this machine's link MAC into every session id (call once the link NIC is known).
void salt_session_ids(const MacAddress& mac);

}  // namespace tandem::x86
