#include "replication/link/hello.hpp"

#include "hypervisor/util/bytes.hpp"

namespace tandem::link {
namespace {

template <class T>
void put(std::span<std::uint8_t> out, std::size_t offset, T value) {
    for (std::size_t i = 0; i < sizeof(T); ++i) out[offset + i] = static_cast<std::uint8_t>(value >> (8 * i));
}

void print_value(Writer& w, HandshakeField f, std::uint64_t v) {
    switch (f) {
    case HandshakeField::role:
        print(w, "{}", v == 1 ? "primary" : v == 2 ? "backup" : "unknown role");
        break;
    case HandshakeField::guest_memory:
        print(w, "{}", Bytes{v});
        break;
    case HandshakeField::features:
        print(w, "{}", hex(v));
        break;
    case HandshakeField::pair_mode:
        print(w, "{}", v == 0 ? "checkpoint" : v == 1 ? "lockstep" : "unknown mode");
        break;
    case HandshakeField::key_id:
        if (v == 0) {
            print(w, "none (insecure_link=1)");
        } else {
            print(w, "key id {}", hex_fixed(v));
        }
        break;
    default:
        print(w, "{}", v);
        break;
    }
}

}  // namespace

const char* handshake_field_name(HandshakeField f) {
    switch (f) {
    case HandshakeField::none: return "none";
    case HandshakeField::protocol_version: return "protocol version";
    case HandshakeField::role: return "role";
    case HandshakeField::guest_memory: return "guest memory size";
    case HandshakeField::page_size: return "page size";
    case HandshakeField::features: return "feature bits";
    case HandshakeField::key_id: return "link key";
    case HandshakeField::pair_mode: return "pair mode";
    }
    return "unknown field";
}

void encode_hello(const HandshakeParams& p, std::span<std::uint8_t, kHelloPayloadSize> out) {
    out[0] = role_code(p.role);
    out[1] = static_cast<std::uint8_t>(p.pair_mode);
    put<std::uint16_t>(out, 2, p.mtu);
    put<std::uint32_t>(out, 4, p.page_size);
    put<std::uint64_t>(out, 8, p.guest_memory);
    put<std::uint64_t>(out, 16, p.features);
    put<std::uint64_t>(out, 24, p.key_id);
}

Result<HandshakeParams> decode_hello(std::span<const std::uint8_t> payload) {
    if (payload.size() != kHelloPayloadSize) return Error::of("HELLO: wrong payload size", payload.size());
    HandshakeParams p;
    if (payload[0] != 1 && payload[0] != 2) return Error::of("HELLO: unknown role", payload[0]);
    p.role = payload[0] == 1 ? Role::primary : Role::backup;
    if (payload[1] > 1) return Error::of("HELLO: unknown pair mode", payload[1]);
    p.pair_mode = static_cast<PairMode>(payload[1]);
    p.mtu = load_le<std::uint16_t>(payload, 2);
    if (p.mtu < kMinMtu || p.mtu > kJumboMtu) return Error::of("HELLO: MTU outside 1280..9000", p.mtu);
    p.page_size = load_le<std::uint32_t>(payload, 4);
    p.guest_memory = load_le<std::uint64_t>(payload, 8);
    p.features = load_le<std::uint64_t>(payload, 16);
    p.key_id = load_le<std::uint64_t>(payload, 24);
    return p;
}

void encode_hello_ack(const HelloAck& a, std::span<std::uint8_t, kHelloAckPayloadSize> out) {
    out[0] = static_cast<std::uint8_t>(a.refused);
    for (std::size_t i = 1; i < 8; ++i) out[i] = 0;
    put<std::uint64_t>(out, 8, a.echo_session);
    put<std::uint64_t>(out, 16, a.sender_value);
    put<std::uint64_t>(out, 24, a.receiver_value);
}

Result<HelloAck> decode_hello_ack(std::span<const std::uint8_t> payload) {
    if (payload.size() != kHelloAckPayloadSize) return Error::of("HELLO_ACK: wrong payload size", payload.size());
    if (payload[0] > kHandshakeFieldMax) return Error::of("HELLO_ACK: unknown status", payload[0]);
    for (std::size_t i = 1; i < 8; ++i) {
        if (payload[i] != 0) return Error::of("HELLO_ACK: reserved byte set", i);
    }
    HelloAck a;
    a.refused = static_cast<HandshakeField>(payload[0]);
    a.echo_session = load_le<std::uint64_t>(payload, 8);
    a.sender_value = load_le<std::uint64_t>(payload, 16);
    a.receiver_value = load_le<std::uint64_t>(payload, 24);
    return a;
}

std::optional<HandshakeFailure> check_handshake(const HandshakeParams& local, const HandshakeParams& peer) {
    auto fail = [](HandshakeField f, std::uint64_t l, std::uint64_t p) { return HandshakeFailure{f, l, p, false}; };
    if (local.key_id != peer.key_id) return fail(HandshakeField::key_id, local.key_id, peer.key_id);
    if (local.role == peer.role) return fail(HandshakeField::role, role_code(local.role), role_code(peer.role));
    if (local.guest_memory != peer.guest_memory) {
        return fail(HandshakeField::guest_memory, local.guest_memory, peer.guest_memory);
    }
    if (local.page_size != peer.page_size) return fail(HandshakeField::page_size, local.page_size, peer.page_size);
    if (local.features != peer.features) return fail(HandshakeField::features, local.features, peer.features);
    if (local.pair_mode != peer.pair_mode) {
        return fail(HandshakeField::pair_mode, static_cast<std::uint64_t>(local.pair_mode),
                    static_cast<std::uint64_t>(peer.pair_mode));
    }
    return std::nullopt;
}

void print_handshake_failure(Writer& w, const HandshakeFailure& f) {
    if (f.unauthenticated) {
        print(w, "link not connected{}: ", f.by_peer ? " (the peer's reason)" : "");
    } else {
        print(w, "link refused{}: ", f.by_peer ? " by peer" : "");
    }
    switch (f.field) {
    case HandshakeField::role:
        print(w, "role conflict");
        break;
    case HandshakeField::key_id:
        print(w, "link key mismatch (key= differs, or only one side has insecure_link=1)");
        break;
    default:
        print(w, "{} mismatch", handshake_field_name(f.field));
        break;
    }
    print(w, ": local ");
    print_value(w, f.field, f.local);
    print(w, ", peer ");
    print_value(w, f.field, f.peer);
    if (f.unauthenticated) print(w, " (not authenticated with this link key: ignored; still waiting for a peer that holds it)");
}

Error handshake_error(const HandshakeFailure& f) {
    switch (f.field) {
    case HandshakeField::protocol_version: return Error::of("link refused: protocol version mismatch", f.peer);
    case HandshakeField::role: return Error::of("link refused: role conflict (both sides have the same role)", f.peer);
    case HandshakeField::guest_memory: return Error::of("link refused: guest memory size mismatch", f.peer);
    case HandshakeField::page_size: return Error::of("link refused: page size mismatch", f.peer);
    case HandshakeField::features: return Error::of("link refused: feature bits mismatch", f.peer);
    case HandshakeField::key_id: return Error::of("link refused: link key mismatch", f.peer);
    case HandshakeField::pair_mode: return Error::of("link refused: pair mode mismatch (lockstep and checkpoint)", f.peer);
    case HandshakeField::none: break;
    }
    return Error::of("link refused");
}

}  // namespace tandem::link
