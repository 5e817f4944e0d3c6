// The link self-test (mode=linktest, issue 5): both machines stream the same amount of
// pseudo-random data to each other over the transport, each checks every byte it receives
// against the stream it expects, and each side's final message carries the byte count and an
// FNV-1a digest of all it sent. A side is done when all it sent is acknowledged and all it
// expected arrived and matched. Portable: it runs over the simulated link in host tests and over
// the e1000 on the machine.
#pragma once

#include <cstdint>

#include "hypervisor/config/vocabulary.hpp"
#include "hypervisor/console/writer.hpp"
#include "replication/link/transport.hpp"

namespace tandem::link {

// The byte stream a side sends: xorshift64* seeded by the sender's role, 8 bytes per step.
class TestStream {
public:
    explicit TestStream(Role sender) : state_(sender == Role::primary ? 0x9e3779b97f4a7c15ull : 0xd1b54a32d192ed03ull) {}
    std::uint8_t next();

private:
    std::uint64_t state_;
    std::uint64_t word_ = 0;
    unsigned left_ = 0;
};

class LinkTest final : public MessageSink {
public:
    LinkTest(Role self, std::uint64_t bytes) : bytes_(bytes), outgoing_(self),
          incoming_(self == Role::primary ? Role::backup : Role::primary) {}

    void attach(Transport& transport) { transport_ = &transport; }
    // Sends as much as the window allows.
    void pump();
    void on_message(const Message& message) override;

    bool sent_everything() const { return end_sent_; }
    bool received_everything() const { return end_received_; }
    bool done() const { return end_sent_ && end_received_ && transport_ != nullptr && transport_->acked_everything(); }
    bool verified() const { return done() && mismatches_ == 0 && digest_ok_; }
    std::uint64_t bytes_sent() const { return sent_; }
    std::uint64_t bytes_received() const { return received_; }
    std::uint64_t mismatches() const { return mismatches_; }
    // "linktest: sent N, received N (digest ok)"
    void report(Writer& out) const;

private:
    std::uint64_t bytes_;
    Transport* transport_ = nullptr;
    TestStream outgoing_;
    TestStream incoming_;
    std::uint64_t sent_ = 0, received_ = 0, mismatches_ = 0;
    std::uint64_t sent_digest_ = 0xcbf29ce484222325ull, received_digest_ = 0xcbf29ce484222325ull;
    std::uint64_t peer_digest_ = 0, peer_count_ = 0;
    bool end_sent_ = false, end_received_ = false, digest_ok_ = false;
    std::uint8_t chunk_[kMaxPayload]{};
};

}  // namespace tandem::link
