// Legacy receive and transmit descriptors, 16 bytes each, read and written by the device in the
// rings (8254x SDM §3.2.3 receive, §3.3.3 transmit).
#pragma once

#include <cstddef>
#include <cstdint>

namespace tandem::nic::e1000 {

struct RxDescriptor {
    std::uint64_t buffer;    // physical address of the receive buffer
    std::uint16_t length;    // bytes written into the buffer (written back)
    std::uint16_t checksum;  // packet checksum (unused: checksum offload is off)
    std::uint8_t status;
    std::uint8_t errors;    // valid when EOP is set
    std::uint16_t special;  // VLAN tag
};
static_assert(sizeof(RxDescriptor) == 16);
static_assert(offsetof(RxDescriptor, length) == 8);
static_assert(offsetof(RxDescriptor, status) == 12);
static_assert(offsetof(RxDescriptor, errors) == 13);

// Receive status and errors (§3.2.3.1-§3.2.3.2).
namespace rx_status {
inline constexpr std::uint8_t kDd = 1u << 0;   // descriptor done
inline constexpr std::uint8_t kEop = 1u << 1;  // end of packet
}  // namespace rx_status
namespace rx_error {
inline constexpr std::uint8_t kCe = 1u << 0;    // CRC or alignment error
inline constexpr std::uint8_t kSe = 1u << 1;    // symbol error
inline constexpr std::uint8_t kSeq = 1u << 2;   // sequence error
inline constexpr std::uint8_t kCxe = 1u << 4;   // carrier extension error
inline constexpr std::uint8_t kTcpe = 1u << 5;  // TCP/UDP checksum error (offload only)
inline constexpr std::uint8_t kIpe = 1u << 6;   // IP checksum error (offload only)
inline constexpr std::uint8_t kRxe = 1u << 7;   // data error
// The errors that make the frame itself bad (the checksum bits only report offload results).
inline constexpr std::uint8_t kFrameErrors = kCe | kSe | kSeq | kCxe | kRxe;
}  // namespace rx_error

struct TxDescriptor {
    std::uint64_t buffer;  // physical address of the data
    std::uint16_t length;  // bytes at `buffer`
    std::uint8_t cso;      // checksum offset (unused)
    std::uint8_t command;
    std::uint8_t status;  // written back when RS is set
    std::uint8_t css;     // checksum start (unused)
    std::uint16_t special;
};
static_assert(sizeof(TxDescriptor) == 16);
static_assert(offsetof(TxDescriptor, length) == 8);
static_assert(offsetof(TxDescriptor, command) == 11);
static_assert(offsetof(TxDescriptor, status) == 12);

// Transmit command and status (§3.3.3.1-§3.3.3.2).
namespace tx_command {
inline constexpr std::uint8_t kEop = 1u << 0;   // end of packet
inline constexpr std::uint8_t kIfcs = 1u << 1;  // insert FCS
inline constexpr std::uint8_t kRs = 1u << 3;    // report status (sets DD when done)
inline constexpr std::uint8_t kDext = 1u << 5;  // extended descriptor (never set: legacy)
}  // namespace tx_command
namespace tx_status {
inline constexpr std::uint8_t kDd = 1u << 0;  // descriptor done
inline constexpr std::uint8_t kEc = 1u << 1;  // excess collisions
inline constexpr std::uint8_t kLc = 1u << 2;  // late collision
}  // namespace tx_status

inline constexpr std::uint32_t kRxBufferSize = 2048;  // RCTL.BSIZE = 00, BSEX = 0
inline constexpr std::uint32_t kTxBufferSize = 2048;

}  // namespace tandem::nic::e1000
