// The announcement a promoted backup makes on the client network (DESIGN §5): a gratuitous ARP
// request (RFC 5227 §3 "ARP Announcement": sender and target IP both the guest's) from the
// guest's MAC, broadcast, so switches learn the guest's MAC on the new port and hosts refresh
// their ARP caches. Padded to the 60-byte Ethernet minimum.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "hypervisor/net/mac_address.hpp"

namespace tandem::net {

inline constexpr std::size_t kGratuitousArpSize = 60;

void build_gratuitous_arp(std::span<std::uint8_t, kGratuitousArpSize> out, const MacAddress& mac,
                          const std::uint8_t (&ip)[4]);

}  // namespace tandem::net
