// An Ethernet MAC address (IEEE 802): vocabulary shared by the configuration, the NIC drivers,
// the replication link and the guest's network.
#pragma once

#include <cstdint>

namespace tandem {

struct MacAddress {
    std::uint8_t bytes[6];
};
static_assert(sizeof(MacAddress) == 6);

}  // namespace tandem
