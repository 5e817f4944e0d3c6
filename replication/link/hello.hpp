// The HELLO handshake of the replication link (DESIGN.md §4).
//
// Each side sends HELLO (its parameters) until the link is up, and answers every HELLO with a
// HELLO_ACK. Both sides compare the two parameter sets the same way, so a mismatch is found and
// reported on both consoles; the refusing side's HELLO_ACK also names the field, so the other side
// can report the peer's view even if it never saw the peer's HELLO.
//
// HELLO payload (32 bytes, little-endian, public checksum so a peer with another key can read it):
//   0  u8   role            1 = primary, 2 = backup; the two sides must differ
//   1  u8   pair mode       0 = checkpoint (also a migration), 1 = lockstep; must be equal
//   2  u16  mtu             largest Ethernet payload this side receives (1500..9000); the link
//                           uses the smaller of the two
//   4  u32  page_size       must be equal
//   8  u64  guest_memory    bytes of guest RAM; must be equal
//  16  u64  features        feature bits; must be equal
//  24  u64  key_id          link_keys.hpp; 0 = no key (insecure_link=1); must be equal
//
// HELLO_ACK payload (32 bytes):
//   0  u8   status          0 = accepted, else the HandshakeField that was refused
//   1  7    reserved        0
//   8  u64  echo_session    the session id of the HELLO being answered
//  16  u64  sender_value    the refusing side's own value of the field
//  24  u64  receiver_value  the value it received from the other side
// An accepting HELLO_ACK is encrypted under the new traffic key (it proves the key and the
// freshness of the session); a refusing one carries the public checksum, so it is readable.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "hypervisor/config/vocabulary.hpp"
#include "hypervisor/console/writer.hpp"
#include "hypervisor/util/result.hpp"
#include "replication/link/frame.hpp"

namespace tandem::link {

struct HandshakeParams {
    Role role = Role::primary;
    std::uint16_t mtu = kStandardMtu;
    std::uint32_t page_size = 4096;
    std::uint64_t guest_memory = 0;
    std::uint64_t features = 0;
    std::uint64_t key_id = 0;
    PairMode pair_mode = PairMode::checkpoint;
};

enum class HandshakeField : std::uint8_t {
    none = 0,  // accepted
    protocol_version = 1,
    role = 2,
    guest_memory = 3,
    page_size = 4,
    features = 5,
    key_id = 6,
    pair_mode = 7,
};
inline constexpr std::uint8_t kHandshakeFieldMax = 7;

const char* handshake_field_name(HandshakeField f);

struct HelloAck {
    HandshakeField refused = HandshakeField::none;
    std::uint64_t echo_session = 0;
    std::uint64_t sender_value = 0;
    std::uint64_t receiver_value = 0;
};

// Why a link was refused, always from this side's point of view.
struct HandshakeFailure {
    HandshakeField field = HandshakeField::none;
    std::uint64_t local = 0;
    std::uint64_t peer = 0;
    bool by_peer = false;  // learnt from the peer's refusing HELLO_ACK
    // Seen in a frame that could not be authenticated (another key, or none, or another protocol
    // version): reported, but it changed nothing.
    bool unauthenticated = false;
};

constexpr std::uint8_t role_code(Role r) { return r == Role::primary ? 1 : 2; }

void encode_hello(const HandshakeParams& p, std::span<std::uint8_t, kHelloPayloadSize> out);
Result<HandshakeParams> decode_hello(std::span<const std::uint8_t> payload);
void encode_hello_ack(const HelloAck& a, std::span<std::uint8_t, kHelloAckPayloadSize> out);
Result<HelloAck> decode_hello_ack(std::span<const std::uint8_t> payload);

// The comparison both sides make; nullopt when the parameters are compatible.
std::optional<HandshakeFailure> check_handshake(const HandshakeParams& local, const HandshakeParams& peer);

// "link refused: guest memory size mismatch: local 256 MiB, peer 512 MiB" (with "by peer" when
// the peer refused), values formatted for the field (roles by name, key ids in hex, ...); for an
// unauthenticated one "link not connected: ..." and why it changed nothing.
void print_handshake_failure(Writer& w, const HandshakeFailure& f);
// The same as an Error: a static message naming the field, the peer's value as its number.
Error handshake_error(const HandshakeFailure& f);

}  // namespace tandem::link
