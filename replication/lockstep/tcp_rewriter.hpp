// TCP sequence rewriting on the lockstep backup (issue 13). Both guests run from the same state,
// but a connection opened after the last checkpoint gets an initial sequence number from each
// guest's own clock (Linux: a keyed hash of the addresses plus time, RFC 6528), so the backup's
// guest numbers its bytes differently from the primary's, which the client sees. The backup learns
// the difference from the client's first acknowledgement of the handshake (it acknowledges the
// primary's ISN + 1, RFC 9293 §3.5), then:
//   outgoing  (the backup's guest -> the comparator, and the client after a failover): the
//             sequence number moves into the primary's numbering;
//   incoming  (the client's frames, forwarded, -> the backup's guest): the acknowledgement number
//             and SACK blocks (RFC 2018) move into the backup's numbering.
// Checksums are updated incrementally (RFC 1624); virtio-net offers no checksum offload, so the
// guest's checksums are complete. At a checkpoint both guests are the same machine again and the
// table is cleared; after a failover it is kept until each connection ends (RST, or FIN both ways).
// Not handled yet: TCP timestamps (RFC 7323) are left as each guest wrote them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace tandem::lockstep {

enum class Rewrite : std::uint8_t {
    unchanged,  // not TCP, not a connection that needs it, or nothing to change
    rewritten,
    unknown,    // the guest sent data before the difference was learned: the comparator will differ
};

struct RewriterStats {
    std::uint64_t rewritten_out = 0, rewritten_in = 0, learned = 0, unknown = 0, table_full = 0, ended = 0;
};

class TcpSequenceRewriter {
public:
    static constexpr std::size_t kMaxConnections = 256;

    Rewrite outgoing(std::span<std::uint8_t> frame);
    Rewrite incoming(std::span<std::uint8_t> frame);
    void reset();  // a checkpoint: the guests agree again

    std::size_t connections() const;
    const RewriterStats& stats() const { return stats_; }

private:
    struct Connection {
        std::uint32_t guest_ip = 0, client_ip = 0;
        std::uint16_t guest_port = 0, client_port = 0;
        bool used = false, has_isn = false, has_offset = false, guest_fin = false, client_fin = false;
        std::uint32_t backup_isn = 0;
        std::uint32_t offset = 0;  // primary's numbering - backup's numbering
    };

    Connection* find(std::uint32_t guest_ip, std::uint16_t guest_port, std::uint32_t client_ip,
                     std::uint16_t client_port, bool create);
    void end(Connection& c);
    void note_close(Connection& c, std::uint8_t flags, bool from_guest);

    Connection table_[kMaxConnections];
    RewriterStats stats_;
};

// RFC 1624 eqn. 3: the Internet checksum after a 32-bit field changed from `before` to `after`.
std::uint16_t checksum_after_change(std::uint16_t checksum, std::uint32_t before, std::uint32_t after);

}  // namespace tandem::lockstep
