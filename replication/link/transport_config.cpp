#include "replication/link/transport_config.hpp"

namespace tandem::link {

Status check_transport_config(const TransportConfig& config, const LinkSecret& secret) {
    if (config.session_id == 0) return Error::of("link: session id must be nonzero (random at every start)");
    if (config.mtu < kMinMtu || config.mtu > kJumboMtu) return Error::of("link: MTU outside 1280..9000", config.mtu);
    if (config.window == 0 || config.window > kMaxWindow) return Error::of("link: window outside 1..64", config.window);
    if (config.ack_every == 0) return Error::of("link: ack_every must be at least 1");
    if (config.initial_cwnd == 0 || config.initial_cwnd > kMaxWindow) {
        return Error::of("link: initial_cwnd outside 1..64", config.initial_cwnd);
    }
    if (config.page_size == 0 || (config.page_size & (config.page_size - 1)) != 0) {
        return Error::of("link: page size is not a power of two", config.page_size);
    }
    const TransportTiming& t = config.timing;
    if (t.hello_interval_ns == 0 || t.heartbeat_interval_ns == 0 || t.silence_timeout_ns == 0 || t.min_rto_ns == 0 ||
        t.initial_rto_ns == 0 || t.min_rto_ns > t.max_rto_ns) {
        return Error::of("link: a timing parameter is zero, or min_rto exceeds max_rto");
    }
    if (!secret.insecure && secret.key_id == 0) return Error::of("link: a key without key id (use make_link_secret)");
    return success();
}

}  // namespace tandem::link
