// 8254x registers the driver uses (Intel PCI/PCI-X Family of Gigabit Ethernet Controllers
// Software Developer's Manual, 317453-006, "the 8254x SDM"; register summary in §13.3, details
// §13.4). Offsets are bytes into BAR0 (128 KiB of memory space, §13.1). Each register is a
// Register value carrying its offset, so an offset cannot be confused with a bit mask.
#pragma once

#include <cstdint>

namespace tandem::nic::e1000 {

struct Register {
    std::uint32_t offset;
};

inline constexpr std::uint32_t kRegisterWindow = 128 * 1024;  // BAR0 size (§4.1, memory BAR)

// General (§13.4.1-§13.4.6).
inline constexpr Register kCtrl{0x0000};     // device control
inline constexpr Register kStatus{0x0008};   // device status (read only)
inline constexpr Register kEecd{0x0010};     // EEPROM/flash control
inline constexpr Register kEerd{0x0014};     // EEPROM read (82540/82545 layout, §13.4.4)
inline constexpr Register kCtrlExt{0x0018};  // extended device control
inline constexpr Register kFcal{0x0028};     // flow control address low
inline constexpr Register kFcah{0x002c};     // flow control address high
inline constexpr Register kFct{0x0030};      // flow control type
inline constexpr Register kFcttv{0x0170};    // flow control transmit timer value
// Interrupts (§13.4.17-§13.4.21): polled operation keeps all of them masked.
inline constexpr Register kIcr{0x00c0};  // cause, clear on read
inline constexpr Register kIms{0x00d0};  // mask set (read: current mask)
inline constexpr Register kImc{0x00d8};  // mask clear
// Receive (§13.4.22, §13.4.27-§13.4.31).
inline constexpr Register kRctl{0x0100};
inline constexpr Register kRdbal{0x2800};
inline constexpr Register kRdbah{0x2804};
inline constexpr Register kRdlen{0x2808};
inline constexpr Register kRdh{0x2810};
inline constexpr Register kRdt{0x2818};
inline constexpr Register kRdtr{0x2820};  // receive delay timer
inline constexpr Register kRadv{0x282c};  // receive absolute delay
// Transmit (§13.4.33-§13.4.42).
inline constexpr Register kTctl{0x0400};
inline constexpr Register kTipg{0x0410};
inline constexpr Register kTdbal{0x3800};
inline constexpr Register kTdbah{0x3804};
inline constexpr Register kTdlen{0x3808};
inline constexpr Register kTdh{0x3810};
inline constexpr Register kTdt{0x3818};
inline constexpr Register kTidv{0x3820};  // transmit interrupt delay
// Statistics (§13.7): clear on read.
inline constexpr Register kMpc{0x4010};  // missed packets: no free receive descriptor
// Filters: multicast table array (§13.5.1) and receive addresses (§13.5.2-§13.5.3).
inline constexpr Register kMta{0x5200};  // 128 dwords
inline constexpr unsigned kMtaEntries = 128;
inline constexpr Register kRal0{0x5400};  // receive address low, entry 0
inline constexpr Register kRah0{0x5404};  // receive address high, entry 0

constexpr Register mta(unsigned i) { return Register{kMta.offset + 4 * i}; }
static_assert(mta(kMtaEntries - 1).offset == 0x53fc);

// CTRL (§13.4.1).
namespace ctrl {
inline constexpr std::uint32_t kFd = 1u << 0;    // full duplex
inline constexpr std::uint32_t kLrst = 1u << 3;  // link reset
inline constexpr std::uint32_t kAsde = 1u << 5;  // auto-speed detection enable
inline constexpr std::uint32_t kSlu = 1u << 6;   // set link up
inline constexpr std::uint32_t kIlos = 1u << 7;  // invert loss-of-signal
inline constexpr std::uint32_t kFrcspd = 1u << 11;
inline constexpr std::uint32_t kFrcdplx = 1u << 12;
inline constexpr std::uint32_t kRst = 1u << 26;  // device reset, self-clearing
inline constexpr std::uint32_t kVme = 1u << 30;  // VLAN mode
inline constexpr std::uint32_t kPhyRst = 1u << 31;
}  // namespace ctrl

// STATUS (§13.4.2).
namespace status {
inline constexpr std::uint32_t kFd = 1u << 0;
inline constexpr std::uint32_t kLu = 1u << 1;  // link up
}  // namespace status

// EERD on the 82540EP/EM and 82545 (§13.4.4): start bit 0, done bit 4, word address
// 15:8, data 31:16. (The 82541/82547 move done to bit 1 and the address to 15:2.)
namespace eerd {
inline constexpr std::uint32_t kStart = 1u << 0;
inline constexpr std::uint32_t kDone = 1u << 4;
inline constexpr unsigned kAddressShift = 8;
inline constexpr unsigned kDataShift = 16;
}  // namespace eerd
inline constexpr unsigned kEepromMacWords = 3;  // words 0-2: Ethernet address (§5.6.1)

// RAH (§13.5.3): address bits 47:32 in 15:0, address valid in bit 31.
inline constexpr std::uint32_t kRahAddressValid = 1u << 31;

// RCTL (§13.4.22).
namespace rctl {
inline constexpr std::uint32_t kEn = 1u << 1;
inline constexpr std::uint32_t kSbp = 1u << 2;   // store bad packets
inline constexpr std::uint32_t kUpe = 1u << 3;   // unicast promiscuous
inline constexpr std::uint32_t kMpe = 1u << 4;   // multicast promiscuous
inline constexpr std::uint32_t kLpe = 1u << 5;   // long packet enable
inline constexpr std::uint32_t kBam = 1u << 15;  // accept broadcast
inline constexpr std::uint32_t kBsizeMask = 3u << 16;
inline constexpr std::uint32_t kBsize2048 = 0u << 16;  // with BSEX = 0
inline constexpr std::uint32_t kBsex = 1u << 25;
inline constexpr std::uint32_t kSecrc = 1u << 26;  // strip the Ethernet CRC
}  // namespace rctl

// TCTL (§13.4.33) and TIPG (§13.4.34).
namespace tctl {
inline constexpr std::uint32_t kEn = 1u << 1;
inline constexpr std::uint32_t kPsp = 1u << 3;  // pad short packets
inline constexpr unsigned kCtShift = 4;         // collision threshold, 11:4
inline constexpr unsigned kColdShift = 12;      // collision distance, 21:12
inline constexpr std::uint32_t kCtRecommended = 0x0f;
inline constexpr std::uint32_t kColdFullDuplex = 0x40;
}  // namespace tctl
// IPGT 10, IPGR1 8, IPGR2 6: the values §13.4.34 gives for 10/100/1000BASE-T (IEEE 802.3's 96-bit IPG).
inline constexpr std::uint32_t kTipgCopper = 10u | 8u << 10 | 6u << 20;
static_assert(kTipgCopper == 0x0060200a);

// Descriptor rings: length in bytes must be a multiple of 128 (§13.4.29, §13.4.39), i.e. 8
// descriptors; heads and tails are 16-bit indices.
inline constexpr unsigned kRingLengthGranule = 128;
inline constexpr unsigned kMaxRingDescriptors = 4096;  // tandem's bound (the device allows 65536)

}  // namespace tandem::nic::e1000
