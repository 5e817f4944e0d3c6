#include "nic-drivers/e1000/mac_address.hpp"

#include "nic-drivers/e1000/registers.hpp"

namespace tandem::nic::e1000 {
namespace {

constexpr unsigned kEerdPolls = 2000;
constexpr std::uint32_t kEerdPollMicroseconds = 5;

std::uint32_t ral(unsigned index) { return kRal0.offset + 8 * index; }
std::uint32_t rah(unsigned index) { return kRah0.offset + 8 * index; }

}  // namespace

bool read_eeprom_word(MmioWindow& regs, Delay& delay, std::uint8_t word, std::uint16_t& out) {
    regs.write32(kEerd.offset, eerd::kStart | static_cast<std::uint32_t>(word) << eerd::kAddressShift);
    for (unsigned i = 0; i < kEerdPolls; ++i) {
        std::uint32_t v = regs.read32(kEerd.offset);
        if ((v & eerd::kDone) != 0) {
            out = static_cast<std::uint16_t>(v >> eerd::kDataShift);
            return true;
        }
        delay.microseconds(kEerdPollMicroseconds);
    }
    return false;
}

Result<MacRead> read_mac_address(MmioWindow& regs, Delay& delay) {
    MacRead from_eeprom{{}, MacSource::eeprom};
    bool eeprom_ok = true;
    for (std::uint8_t w = 0; w < kEepromMacWords && eeprom_ok; ++w) {
        std::uint16_t value = 0;
        eeprom_ok = read_eeprom_word(regs, delay, w, value);
        // Each word holds two address bytes, the lower-numbered byte in the low half (§5.6.1).
        from_eeprom.mac.bytes[2 * w] = static_cast<std::uint8_t>(value);
        from_eeprom.mac.bytes[2 * w + 1] = static_cast<std::uint8_t>(value >> 8);
    }
    if (eeprom_ok && valid_unicast(from_eeprom.mac)) return from_eeprom;

    MacRead from_ra{{}, MacSource::receive_address};
    std::uint32_t low = regs.read32(ral(0));
    std::uint32_t high = regs.read32(rah(0));
    for (unsigned i = 0; i < 4; ++i) from_ra.mac.bytes[i] = static_cast<std::uint8_t>(low >> (8 * i));
    from_ra.mac.bytes[4] = static_cast<std::uint8_t>(high);
    from_ra.mac.bytes[5] = static_cast<std::uint8_t>(high >> 8);
    if ((high & kRahAddressValid) != 0 && valid_unicast(from_ra.mac)) return from_ra;
    return Error::of(eeprom_ok ? "e1000: no valid MAC address (EEPROM holds none, RAL0/RAH0 empty)"
                               : "e1000: no valid MAC address (EEPROM does not answer, RAL0/RAH0 empty)");
}

void write_receive_address(MmioWindow& regs, unsigned index, const MacAddress& mac) {
    const std::uint8_t* b = mac.bytes;
    std::uint32_t low = static_cast<std::uint32_t>(b[0]) | static_cast<std::uint32_t>(b[1]) << 8 |
                        static_cast<std::uint32_t>(b[2]) << 16 | static_cast<std::uint32_t>(b[3]) << 24;
    std::uint32_t high = static_cast<std::uint32_t>(b[4]) | static_cast<std::uint32_t>(b[5]) << 8 | kRahAddressValid;
    // Low first, then high with AV: the entry becomes valid only once complete (§13.5.3: write low to high, clear high
    // to low).
    regs.write32(rah(index), 0);
    regs.write32(ral(index), low);
    regs.write32(rah(index), high);
}

void clear_receive_address(MmioWindow& regs, unsigned index) {
    regs.write32(rah(index), 0);
    regs.write32(ral(index), 0);
}

}  // namespace tandem::nic::e1000
