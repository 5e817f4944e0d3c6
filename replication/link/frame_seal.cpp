#include "replication/link/frame_seal.hpp"

#include "replication/crypto/aead.hpp"
#include "replication/crypto/chacha20.hpp"
#include "replication/crypto/constant_time.hpp"
#include "replication/link/link_keys.hpp"

namespace tandem::link {
namespace {

crypto::Tag tag_from(std::span<const std::uint8_t> bytes) {
    crypto::Tag t{};
    for (std::size_t i = 0; i < crypto::kTagSize && i < bytes.size(); ++i) t[i] = bytes[i];
    return t;
}

}  // namespace

Result<std::size_t> seal_frame(std::span<std::uint8_t> out, const EthernetHeader& eth, FrameHeader header,
                               std::span<const std::uint8_t> payload, const crypto::Key* traffic_key,
                               const crypto::Key* handshake_key) {
    if (payload.size() > kMaxPayload) return Error::of("link: payload larger than a frame may carry", payload.size());
    const std::size_t size = kMinFrameSize + payload.size();
    if (out.size() < size) return Error::of("link: frame buffer too small", size);
    header.payload_length = static_cast<std::uint16_t>(payload.size());
    if (traffic_key == nullptr) {
        header.flags = static_cast<std::uint16_t>(header.flags | flags::plaintext);
    } else {
        header.flags = static_cast<std::uint16_t>(header.flags & ~flags::plaintext);
    }
    encode_ethernet(eth, out.first<kEthernetHeaderSize>());
    encode_header(header, out.subspan<kEthernetHeaderSize, kFrameHeaderSize>());
    const std::size_t payload_at = kEthernetHeaderSize + kFrameHeaderSize;
    std::span<std::uint8_t> body_payload = out.subspan(payload_at, payload.size());
    crypto::Tag tag{};
    if (traffic_key == nullptr) {
        for (std::size_t i = 0; i < payload.size(); ++i) body_payload[i] = payload[i];
        if (handshake_key != nullptr) {
            tag = crypto::aead_tag(*handshake_key, frame_nonce(header.session, header.seq),
                                   out.first(payload_at + payload.size()), {});
        } else {
            tag = crypto::aead_tag(kPublicKey, kPublicNonce, out.first(payload_at + payload.size()), {});
        }
    } else {
        crypto::Nonce nonce = frame_nonce(header.session, header.seq);
        if (auto s = crypto::aead_seal(*traffic_key, nonce, out.first(payload_at), payload, body_payload, tag); !s) {
            return s.error();
        }
    }
    for (std::size_t i = 0; i < kFrameTagSize; ++i) out[payload_at + payload.size() + i] = tag[i];
    return size;
}

bool verify_frame(const DecodedFrame& frame, const crypto::Key* traffic_key, const crypto::Key* handshake_key) {
    if (frame.tag.size() != kFrameTagSize) return false;
    crypto::Tag tag = tag_from(frame.tag);
    if (frame.plaintext()) {
        if (handshake_key != nullptr) {
            return crypto::aead_verify(*handshake_key, frame_nonce(frame.header.session, frame.header.seq), frame.body, {}, tag);
        }
        return crypto::aead_verify(kPublicKey, kPublicNonce, frame.body, {}, tag);
    }
    if (traffic_key == nullptr) return false;
    crypto::Nonce nonce = frame_nonce(frame.header.session, frame.header.seq);
    return crypto::aead_verify(*traffic_key, nonce, frame.authenticated, frame.payload, tag);
}

void decrypt_verified_payload(const DecodedFrame& frame, const crypto::Key& traffic_key, std::span<std::uint8_t> out) {
    if (frame.plaintext()) {
        for (std::size_t i = 0; i < frame.payload.size() && i < out.size(); ++i) out[i] = frame.payload[i];
        return;
    }
    crypto::Nonce nonce = frame_nonce(frame.header.session, frame.header.seq);
    crypto::chacha20_xor(traffic_key, 1, nonce, frame.payload, out.first(frame.payload.size() < out.size() ? frame.payload.size() : out.size()));
}

bool verify_public_checksum(std::span<const std::uint8_t> frame) {
    if (frame.size() < kFrameTagSize) return false;
    crypto::Tag tag = tag_from(frame.last(kFrameTagSize));
    return crypto::aead_verify(kPublicKey, kPublicNonce, frame.first(frame.size() - kFrameTagSize), {}, tag);
}

}  // namespace tandem::link
