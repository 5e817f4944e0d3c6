// Saying, once each, what the link saw in handshake frames it could not authenticate (another
// key, insecure_link on one side only, another protocol version): those change nothing
// (link_session.hpp), but the operator must learn why the link does not connect.
#pragma once

#include <cstdint>

#include "hypervisor/console/writer.hpp"
#include "replication/link/transport.hpp"

namespace tandem::link {

class ObservationReport {
public:
    // Prints "PREFIX: link not connected: ..." when the transport has seen a new reason.
    void poll(const Transport& transport, Writer& out, const char* prefix) {
        const HandshakeFailure* seen = transport.observation();
        if (seen == nullptr || transport.observations() == reported_) return;
        reported_ = transport.observations();
        print(out, "{}: ", prefix);
        print_handshake_failure(out, *seen);
        out.write("\n");
    }
    void reset() { reported_ = 0; }

private:
    std::uint64_t reported_ = 0;
};

}  // namespace tandem::link
