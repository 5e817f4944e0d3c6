#include "replication/link/linktest.hpp"

#include "hypervisor/util/byte_stream.hpp"
#include "hypervisor/util/bytes.hpp"
#include "hypervisor/util/fnv.hpp"

namespace tandem::link {
namespace {
// Message kinds (first payload byte).
constexpr std::uint8_t kChunk = 1;  // u64 offset, bytes
constexpr std::uint8_t kEnd = 2;    // u64 total, u64 digest
constexpr std::size_t kChunkHeader = 9;
}  // namespace

std::uint8_t TestStream::next() {
    if (left_ == 0) {
        state_ ^= state_ >> 12;
        state_ ^= state_ << 25;
        state_ ^= state_ >> 27;
        word_ = state_ * 0x2545f4914f6cdd1dull;
        left_ = 8;
    }
    auto b = static_cast<std::uint8_t>(word_);
    word_ >>= 8;
    --left_;
    return b;
}

void LinkTest::pump() {
    if (transport_ == nullptr || !transport_->established()) return;
    while (!end_sent_ && transport_->can_send()) {
        if (sent_ == bytes_) {
            ByteWriter w({chunk_, sizeof(chunk_)});
            w.put<std::uint8_t>(kEnd);
            w.put<std::uint64_t>(sent_);
            w.put<std::uint64_t>(sent_digest_);
            if (!transport_->send(FrameType::data, 0, w.written())) return;
            end_sent_ = true;
            return;
        }
        std::size_t room = transport_->max_message_size() - kChunkHeader;
        std::uint64_t n = bytes_ - sent_ < room ? bytes_ - sent_ : room;
        chunk_[0] = kChunk;
        store_le<std::uint64_t>(chunk_ + 1, sent_);
        for (std::uint64_t i = 0; i < n; ++i) chunk_[kChunkHeader + i] = outgoing_.next();
        sent_digest_ = fnv1a64(chunk_ + kChunkHeader, static_cast<std::size_t>(n), sent_digest_);
        if (!transport_->send(FrameType::data, 0, {chunk_, static_cast<std::size_t>(kChunkHeader + n)})) {
            // Refused although can_send() said yes: the transport is failing; stop sending.
            return;
        }
        sent_ += n;
    }
}

void LinkTest::on_message(const Message& m) {
    if (m.type != FrameType::data || m.payload.empty()) {
        ++mismatches_;
        return;
    }
    if (m.payload[0] == kChunk && m.payload.size() >= kChunkHeader && !end_received_) {
        std::uint64_t offset = load_le<std::uint64_t>(m.payload, 1);
        // The transport delivers in order and exactly once: every chunk starts where the last ended.
        if (offset != received_) ++mismatches_;
        std::span<const std::uint8_t> data = m.payload.subspan(kChunkHeader);
        for (std::uint8_t b : data) {
            if (b != incoming_.next()) ++mismatches_;
        }
        received_digest_ = fnv1a64(data.data(), data.size(), received_digest_);
        received_ += data.size();
        return;
    }
    if (m.payload[0] == kEnd && m.payload.size() == 17 && !end_received_) {
        peer_count_ = load_le<std::uint64_t>(m.payload, 1);
        peer_digest_ = load_le<std::uint64_t>(m.payload, 9);
        end_received_ = true;
        digest_ok_ = peer_count_ == received_ && peer_digest_ == received_digest_ && received_ == bytes_;
        return;
    }
    ++mismatches_;
}

void LinkTest::report(Writer& out) const {
    println(out, "linktest: sent {} bytes (digest {}), received {} of {} bytes (digest {}, peer says {} bytes digest {}): {}",
            sent_, hex(sent_digest_, 16), received_, bytes_, hex(received_digest_, 16), peer_count_, hex(peer_digest_, 16),
            verified() ? "verified" : "NOT verified");
    if (mismatches_ != 0) println(out, "linktest: {} bytes or messages did not match the expected stream", mismatches_);
}

}  // namespace tandem::link
