// Protecting frames: building [Ethernet | header | payload | tag] and checking a received one.
//
// Encrypted frames (a traffic key, link_keys.hpp): AEAD_CHACHA20_POLY1305 with
// nonce = frame_nonce(header.session, header.seq), AAD = Ethernet header + frame header, and the
// payload as the plaintext. Checksummed frames (flags::plaintext; no key): the payload stays in
// the clear and the tag is the AEAD tag under the public zero key and zero nonce with the whole
// frame before the tag as AAD — a strong checksum that any version of the protocol can check.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "hypervisor/util/result.hpp"
#include "replication/crypto/crypto_types.hpp"
#include "replication/link/frame.hpp"

namespace tandem::link {

// Writes the frame into `out` and returns its size. `traffic_key` null = a plaintext frame
// (flags::plaintext is set here), tagged under `handshake_key` with the frame's nonce when given
// (an authenticated handshake frame), else with the public checksum; otherwise encrypted under
// `traffic_key` (flags::plaintext cleared). header.payload_length is set from the payload.
Result<std::size_t> seal_frame(std::span<std::uint8_t> out, const EthernetHeader& eth, FrameHeader header,
                               std::span<const std::uint8_t> payload, const crypto::Key* traffic_key,
                               const crypto::Key* handshake_key = nullptr);

// True when a decoded frame's tag verifies: under `traffic_key` for an encrypted frame; for a
// plaintext one under `handshake_key` when given, else the public checksum (traffic_key is then
// ignored). A frame whose plaintext flag does not match what the caller expects must be refused
// by the caller (policy, not crypto).
[[nodiscard]] bool verify_frame(const DecodedFrame& frame, const crypto::Key* traffic_key,
                                const crypto::Key* handshake_key = nullptr);

// After verify_frame() succeeded: the payload in the clear, written to `out` (same size).
void decrypt_verified_payload(const DecodedFrame& frame, const crypto::Key& traffic_key, std::span<std::uint8_t> out);

// The version-invariant check: the last 16 bytes are the public checksum over everything before.
[[nodiscard]] bool verify_public_checksum(std::span<const std::uint8_t> frame);

}  // namespace tandem::link
