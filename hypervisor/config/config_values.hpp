// The values of the command line's keys (config.hpp): sizes, MAC and PCI addresses, IPv4
// addresses, the link key. Each parser takes the whole text or refuses it, leaving `out` alone.
#pragma once

#include <cstdint>
#include <string_view>

#include "hypervisor/config/config.hpp"

namespace tandem::config_values {

bool parse_size(std::string_view v, std::uint64_t& out);  // "64M", "1G", "131072K" or bytes
bool parse_mac(std::string_view v, MacAddress& out);      // "52:54:00:12:34:56"
bool parse_nic(std::string_view v, NicSelector& out);     // a PCI address "00:03.0" or a MAC
bool parse_ipv4(std::string_view v, std::uint8_t (&out)[4]);  // "10.0.2.15"
// "10.1.0.2/24": an address and its network's prefix length (1 to 30: a network with room for
// a router and the machine).
bool parse_ipv4_prefix(std::string_view v, std::uint8_t (&address)[4], std::uint8_t& prefix);
bool parse_key(std::string_view v, std::uint8_t (&out)[32]);  // 64 hexadecimal digits

}  // namespace tandem::config_values
