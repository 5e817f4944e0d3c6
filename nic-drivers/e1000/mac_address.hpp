// Where the 82540EM's Ethernet address comes from: EEPROM words 0-2 (8254x SDM §5.6.1), read
// through EERD (§13.4.4), which is what Bochs, QEMU and real boards provide; if the EEPROM does
// not answer or holds no valid unicast address, receive address 0 (RAL0/RAH0, §13.5.2-§13.5.3),
// which the device loads from the EEPROM after reset and firmware (PXE) may have programmed.
#pragma once

#include <cstdint>

#include "hypervisor/net/mac_address.hpp"
#include "hypervisor/util/result.hpp"
#include "nic-drivers/delay.hpp"
#include "nic-drivers/mmio.hpp"

namespace tandem::nic::e1000 {

enum class MacSource : std::uint8_t { eeprom, receive_address };

struct MacRead {
    MacAddress mac{};
    MacSource source = MacSource::eeprom;
};

// A usable station address: not all zeros and not a group (multicast/broadcast) address.
constexpr bool valid_unicast(const MacAddress& mac) {
    bool zero = true;
    for (std::uint8_t b : mac.bytes) zero = zero && b == 0;
    return !zero && (mac.bytes[0] & 1u) == 0;
}

// One EEPROM word through EERD; false when DONE never comes (bounded: about 10 ms).
bool read_eeprom_word(MmioWindow& regs, Delay& delay, std::uint8_t word, std::uint16_t& out);

Result<MacRead> read_mac_address(MmioWindow& regs, Delay& delay);

// Programs receive address `index` (0-15) with the address-valid bit.
void write_receive_address(MmioWindow& regs, unsigned index, const MacAddress& mac);
void clear_receive_address(MmioWindow& regs, unsigned index);

inline constexpr unsigned kReceiveAddresses = 16;

}  // namespace tandem::nic::e1000
