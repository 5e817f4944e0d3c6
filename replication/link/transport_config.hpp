// What a replication transport (transport.hpp) is started with: this side's identity and
// parameters for the handshake, the window, and the timers; and the check start() makes.
#pragma once

#include <cstddef>
#include <cstdint>

#include "hypervisor/config/vocabulary.hpp"
#include "hypervisor/util/result.hpp"
#include "replication/link/frame.hpp"
#include "replication/link/link_keys.hpp"

namespace tandem::link {

// Messages in flight at most: the send and receive windows' slots, and the span one frame's
// cumulative ack plus its 64-bit selective-ack bitmap can describe.
inline constexpr std::size_t kMaxWindow = 64;

struct TransportTiming {
    std::uint64_t hello_interval_ns = 50'000'000;     // HELLO repeat while connecting
    std::uint64_t heartbeat_interval_ns = 5'000'000;  // HEARTBEAT after this long without sending
    std::uint64_t silence_timeout_ns = 300'000'000;   // peer silent after this long unheard
    std::uint64_t initial_rto_ns = 20'000'000;        // before the first RTT sample
    std::uint64_t min_rto_ns = 1'000'000;
    std::uint64_t max_rto_ns = 200'000'000;           // cap of the backoff: bounds recovery after a partition
    std::uint64_t ack_delay_ns = 500'000;             // a pure ACK this long after data at the latest, or,
                                                      // when messages arrive slowly, after ack_every of their
                                                      // gaps (at most 4 min_rto; ack_schedule.cpp timeout())
    std::uint64_t nack_interval_ns = 1'000'000;       // at most one NACK per interval
};

struct TransportConfig {
    Role role = Role::primary;
    std::uint64_t session_id = 0;  // nonzero and unpredictable, new at every start (RDRAND/TSC)
    MacAddress local_mac{};
    bool has_peer_mac = false;     // else HELLO goes to broadcast and the peer's MAC is learnt
    MacAddress peer_mac{};
    std::uint16_t mtu = kStandardMtu;  // what this side's NIC receives: 1280..9000 (less the UDP envelope)
    std::uint64_t guest_memory = 0;
    std::uint32_t page_size = 4096;
    std::uint64_t features = 0;
    PairMode pair_mode = PairMode::checkpoint;
    std::uint32_t window = 64;     // messages accepted and not yet acknowledged, 1..64
    std::uint32_t initial_cwnd = 10;  // congestion window at the start (RFC 6928), 1..64
    std::uint32_t ack_every = 4;   // a pure ACK after this many unacknowledged messages
    TransportTiming timing{};
    std::uint8_t protocol_version = kProtocolVersion;  // only tests change this
};

// Every field in range and the secret usable: the check Transport::start() makes first, so a
// refused configuration leaves a running transport untouched.
[[nodiscard]] Status check_transport_config(const TransportConfig& config, const LinkSecret& secret);

}  // namespace tandem::link
