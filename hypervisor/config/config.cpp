#include "hypervisor/config/config.hpp"

#include "hypervisor/config/config_values.hpp"
#include "hypervisor/net/arp.hpp"
#include "hypervisor/util/decimal.hpp"

namespace tandem {
namespace {

using namespace config_values;

template <class E>
struct Choice {
    std::string_view name;
    E value;
};

constexpr Choice<Role> kRoles[] = {{"primary", Role::primary}, {"backup", Role::backup}};
constexpr Choice<Mode> kModes[] = {{"standalone", Mode::standalone},
                                   {"checkpoint", Mode::checkpoint},
                                   {"lockstep", Mode::lockstep},
                                   {"migrate", Mode::migrate},
                                   {"linktest", Mode::linktest}};
constexpr Choice<DirtyTracking> kDirty[] = {{"auto", DirtyTracking::automatic},
                                            {"pml", DirtyTracking::pml},
                                            {"ad", DirtyTracking::ad_bits},
                                            {"wp", DirtyTracking::write_protect}};
constexpr Choice<Selftest> kSelftests[] = {{"none", Selftest::none},
                                           {"invalid-opcode", Selftest::invalid_opcode},
                                           {"write-text", Selftest::write_text},
                                           {"exec-data", Selftest::exec_data},
                                           {"null-deref", Selftest::null_deref}};
constexpr Choice<GuestEntryChoice> kGuestEntries[] = {{"auto", GuestEntryChoice::automatic},
                                                     {"real", GuestEntryChoice::real},
                                                     {"protected", GuestEntryChoice::protected_mode},
                                                     {"long", GuestEntryChoice::long_mode}};
constexpr Choice<PeerChoice> kPeers[] = {{"link", PeerChoice::link}, {"local", PeerChoice::local}};
constexpr Choice<CaptureChoice> kCaptures[] = {{"cow", CaptureChoice::cow}, {"copy", CaptureChoice::copy}};
constexpr Choice<bool> kBools[] = {{"0", false}, {"1", true}};

// Writes "a, b, c" for a choice table.
template <class E, std::size_t N>
void list_choices(Writer& w, const Choice<E> (&choices)[N]) {
    for (std::size_t i = 0; i < N; ++i) {
        if (i != 0) w.write(", ");
        w.write(choices[i].name);
    }
}

template <class E, std::size_t N>
bool find_choice(std::string_view v, const Choice<E> (&choices)[N], E& out) {
    for (const auto& c : choices) {
        if (c.name == v) {
            out = c.value;
            return true;
        }
    }
    return false;
}

template <class E, std::size_t N>
const char* name_of(E v, const Choice<E> (&choices)[N]) {
    for (const auto& c : choices) {
        if (c.value == v) return c.name.data();  // names are literals: NUL-terminated
    }
    return "?";
}

enum class Key : std::uint8_t {
    role, mode, epoch_ms, guest_mem, failover_ms, dirty, key, peer_mac, link_nic, client_nic,
    insecure_link, guest_kernel, guest_initrd, guest_cmdline, guest_entry, peer, capture, failover_at, verify_every,
    restore_every, epoch_report, guest_mac, guest_ip, linktest_mib, link_version, selftest, dump_boot_info,
    migrate_max_s, migrate_downtime_ms, link_ip, peer_ip, link_gateway, link_port, lockstep_wait_ms, lockstep_max_ms, count
};
constexpr std::string_view kKeyNames[] = {
    "role", "mode", "epoch_ms", "guest_mem", "failover_ms", "dirty", "key", "peer_mac", "link_nic",
    "client_nic", "insecure_link", "guest_kernel", "guest_initrd", "guest_cmdline", "guest_entry", "peer",
    "capture", "failover_at", "verify_every", "restore_every", "epoch_report", "guest_mac", "guest_ip", "linktest_mib",
    "link_version", "selftest",
    "dump_boot_info", "migrate_max_s", "migrate_downtime_ms", "link_ip", "peer_ip", "link_gateway", "link_port",
    "lockstep_wait_ms", "lockstep_max_ms",
};
static_assert(sizeof(kKeyNames) / sizeof(kKeyNames[0]) == static_cast<std::size_t>(Key::count));

constexpr std::uint64_t kMinGuestMem = 16ull << 20;
constexpr std::uint64_t kMaxGuestMem = 64ull << 30;

class Parser {
public:
    Parser(Config& config, Writer& errors) : c_(config), errors_(errors) {}

    void token(std::string_view tok) {
        std::size_t eq = tok.find('=');
        if (eq == std::string_view::npos || eq == 0) {
            complain_start();
            print(errors_, "'{}' is not key=value (known keys: ", tok);
            list_keys();
            errors_.write(")\n");
            return;
        }
        std::string_view name = tok.substr(0, eq);
        std::string_view value = tok.substr(eq + 1);
        for (std::size_t i = 0; i < static_cast<std::size_t>(Key::count); ++i) {
            if (kKeyNames[i] != name) continue;
            if (seen_[i]) {
                complain_start();
                print(errors_, "'{}' is given more than once\n", name);
                return;
            }
            seen_[i] = true;
            apply(static_cast<Key>(i), name, value);
            return;
        }
        complain_start();
        print(errors_, "unknown key '{}' (known keys: ", name);
        list_keys();
        errors_.write(")\n");
    }

    // What one key means depends on another: checked once every key is read.
    void finish() {
        if (mode_named_standalone_ && c_.role == Role::backup) {
            complain_start();
            errors_.write("mode=standalone runs the guest on this machine: role=backup belongs to mode=checkpoint (a "
                          "pair's backup) or mode=migrate (a migration's target)\n");
        }
        check_link_over_udp();
        check_lockstep();
        if (c_.mode != Mode::migrate) return;
        // mode=migrate is the receiving machine's: on the link it is the side that takes a copy.
        if (seen(Key::role) && c_.role != Role::backup) {
            complain_start();
            errors_.write("mode=migrate is for the machine that receives the guest (it takes no role=, or role=backup); "
                          "the machine that runs the guest keeps its mode (checkpoint role=primary, or standalone with a "
                          "link key) and is told to migrate on its console\n");
        }
        if (c_.peer != PeerChoice::link) {
            complain_start();
            errors_.write("mode=migrate receives the guest over the replication link: peer=local cannot be a target\n");
        }
        c_.role = Role::backup;
    }

    // A lockstep pair is two machines on a link; its keys belong to it alone.
    void check_lockstep() {
        if (c_.mode == Mode::lockstep && c_.peer != PeerChoice::link) {
            complain_start();
            errors_.write("mode=lockstep runs both guests, one on each machine of a pair: peer=local cannot be one\n");
        }
        if (c_.mode != Mode::lockstep && (seen(Key::lockstep_wait_ms) || seen(Key::lockstep_max_ms))) {
            complain_start();
            errors_.write("lockstep_wait_ms= and lockstep_max_ms= belong to mode=lockstep\n");
        }
    }

    // link_ip= and peer_ip= go together; the peer is on link_ip's network or behind link_gateway=,
    // which is on it.
    void check_link_over_udp() {
        if (!seen(Key::link_ip) && !seen(Key::peer_ip) && !seen(Key::link_gateway) && !seen(Key::link_port)) return;
        if ((seen(Key::link_ip) && !c_.link_over_udp) || (seen(Key::peer_ip) && !peer_ip_read_)) {
            c_.link_over_udp = false;  // a bad address, said already
            return;
        }
        if (!c_.link_over_udp || !seen(Key::peer_ip)) {
            complain_start();
            errors_.write("the link over UDP/IPv4 needs link_ip= (this machine's address and prefix on the link NIC's "
                          "network) and peer_ip= (the other machine's); link_gateway= and link_port= only go with them\n");
            c_.link_over_udp = false;
            return;
        }
        auto on_link = [&](const std::uint8_t (&ip)[4]) {
            std::uint32_t mask = ~std::uint32_t{0} << (32 - c_.link_prefix);
            return ((net::ipv4_address(ip) ^ net::ipv4_address(c_.link_ip)) & mask) == 0;
        };
        if (c_.has_link_gateway && !on_link(c_.link_gateway)) {
            complain_start();
            errors_.write("link_gateway= is not on link_ip='s network: the router must be reachable on the link NIC\n");
        }
        if (!c_.has_link_gateway && !on_link(c_.peer_ip)) {
            complain_start();
            errors_.write("peer_ip= is not on link_ip='s network: link_gateway= names the router towards it\n");
        }
        if (c_.has_peer_mac) {
            complain_start();
            errors_.write("peer_mac= names a peer on the same Ethernet; over UDP/IPv4 the peer is found by peer_ip=\n");
        }
        if (c_.mode == Mode::linktest) {
            complain_start();
            errors_.write("mode=linktest runs on raw Ethernet only: leave out link_ip= and peer_ip=\n");
        }
    }

    std::size_t problems() const { return problems_; }
    void complain_start() {
        ++problems_;
        errors_.write("config: ");
    }

private:
    bool seen(Key key) const { return seen_[static_cast<std::size_t>(key)]; }
    void list_keys() {
        for (std::size_t i = 0; i < static_cast<std::size_t>(Key::count); ++i) {
            if (i != 0) errors_.write(", ");
            errors_.write(kKeyNames[i]);
        }
    }

    void bad_value(std::string_view name, std::string_view value, std::string_view accepted) {
        complain_start();
        print(errors_, "bad value '{}' for {} (accepted: {})\n", value, name, accepted);
    }

    template <class E, std::size_t N>
    void choice(std::string_view name, std::string_view value, const Choice<E> (&choices)[N], E& out) {
        if (find_choice(value, choices, out)) return;
        complain_start();
        print(errors_, "bad value '{}' for {} (accepted: ", value, name);
        list_choices(errors_, choices);
        errors_.write(")\n");
    }

    void number(std::string_view name, std::string_view value, std::uint64_t lo, std::uint64_t hi, std::uint32_t& out) {
        std::uint64_t n = 0;
        if (!parse_decimal(value, n) || n < lo || n > hi) {
            complain_start();
            print(errors_, "bad value '{}' for {} (accepted: an integer from {} to {})\n", value, name, lo, hi);
            return;
        }
        out = static_cast<std::uint32_t>(n);
    }

    void text(std::string_view name, std::string_view value, std::string_view& out) {
        if (value.empty()) return bad_value(name, value, "a non-empty string");
        out = value;
    }

    void apply(Key k, std::string_view name, std::string_view v) {
        switch (k) {
            case Key::role: return choice(name, v, kRoles, c_.role);
            case Key::mode:
                mode_named_standalone_ = v == "standalone";
                return choice(name, v, kModes, c_.mode);
            case Key::dirty: return choice(name, v, kDirty, c_.dirty);
            case Key::selftest: return choice(name, v, kSelftests, c_.selftest);
            case Key::insecure_link: return choice(name, v, kBools, c_.insecure_link);
            case Key::dump_boot_info: return choice(name, v, kBools, c_.dump_boot_info);
            case Key::epoch_ms: return number(name, v, kMinEpochMs, kMaxEpochMs, c_.epoch_ms);
            case Key::failover_ms: return number(name, v, 10, 600000, c_.failover_ms);
            case Key::migrate_max_s: return number(name, v, 1, 86400, c_.migrate_max_s);
            case Key::migrate_downtime_ms: return number(name, v, 1, 60000, c_.migrate_downtime_ms);
            case Key::lockstep_wait_ms: return number(name, v, 1, 60000, c_.lockstep_wait_ms);
            case Key::lockstep_max_ms: return number(name, v, 10, 600000, c_.lockstep_max_ms);
            case Key::guest_mem: {
                std::uint64_t bytes = 0;
                if (!parse_size(v, bytes) || bytes < kMinGuestMem || bytes > kMaxGuestMem || bytes % (2ull << 20) != 0) {
                    return bad_value(name, v, "a multiple of 2M from 16M to 64G, e.g. 256M or 1G");
                }
                c_.guest_mem = bytes;
                return;
            }
            case Key::key:
                if (!parse_key(v, c_.key)) return bad_value(name, v, "64 hexadecimal digits (a 256-bit key)");
                c_.has_key = true;
                return;
            case Key::peer_mac:
                if (!parse_mac(v, c_.peer_mac)) return bad_value(name, v, "a MAC address like 52:54:00:12:34:56");
                c_.has_peer_mac = true;
                return;
            case Key::link_nic:
            case Key::client_nic:
                if (!parse_nic(v, k == Key::link_nic ? c_.link_nic : c_.client_nic)) {
                    return bad_value(name, v, "a PCI address like 00:03.0 or a MAC address like 52:54:00:12:34:56");
                }
                return;
            case Key::guest_kernel: return text(name, v, c_.guest_kernel);
            case Key::guest_initrd: return text(name, v, c_.guest_initrd);
            case Key::guest_cmdline: return text(name, v, c_.guest_cmdline);
            case Key::guest_entry: return choice(name, v, kGuestEntries, c_.guest_entry);
            case Key::peer: return choice(name, v, kPeers, c_.peer);
            case Key::capture: return choice(name, v, kCaptures, c_.capture);
            case Key::failover_at: return number(name, v, 1, 1000000, c_.failover_at);
            case Key::verify_every: return number(name, v, 1, 1000000, c_.verify_every);
            case Key::restore_every: return number(name, v, 1, 1000000, c_.restore_every);
            case Key::epoch_report: return choice(name, v, kBools, c_.epoch_report);
            case Key::linktest_mib: return number(name, v, 1, 4096, c_.linktest_mib);
            case Key::guest_mac:
                if (!parse_mac(v, c_.guest_mac) || (c_.guest_mac.bytes[0] & 1)) {
                    return bad_value(name, v, "a unicast MAC address like 52:54:00:12:34:56");
                }
                c_.has_guest_mac = true;
                return;
            case Key::guest_ip:
                if (!parse_ipv4(v, c_.guest_ip)) return bad_value(name, v, "an IPv4 address like 10.0.2.15");
                c_.has_guest_ip = true;
                return;
            case Key::link_version: return number(name, v, 1, 255, c_.link_version);
            case Key::link_ip:
                if (!parse_ipv4_prefix(v, c_.link_ip, c_.link_prefix)) {
                    return bad_value(name, v, "an IPv4 address with its prefix length (1 to 30) like 10.1.0.2/24");
                }
                c_.link_over_udp = true;
                return;
            case Key::peer_ip:
                if (!parse_ipv4(v, c_.peer_ip)) return bad_value(name, v, "an IPv4 address like 10.2.0.2");
                peer_ip_read_ = true;
                return;
            case Key::link_gateway:
                if (!parse_ipv4(v, c_.link_gateway)) return bad_value(name, v, "an IPv4 address like 10.1.0.1");
                c_.has_link_gateway = true;
                return;
            case Key::link_port: return number(name, v, 1, 65535, c_.link_port);
            case Key::count: break;
        }
    }

    Config& c_;
    Writer& errors_;
    bool seen_[static_cast<std::size_t>(Key::count)]{};
    bool mode_named_standalone_ = false;  // mode=standalone written out (not the default)
    bool peer_ip_read_ = false;           // peer_ip= given and valid
    std::size_t problems_ = 0;
};

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

}  // namespace

const char* role_name(Role r) { return name_of(r, kRoles); }
const char* mode_name(Mode m) { return name_of(m, kModes); }
const char* dirty_tracking_name(DirtyTracking d) { return name_of(d, kDirty); }

std::size_t parse_command_line(std::string_view cmdline, Config& config, Writer& errors, bool skip_first_word) {
    Parser parser(config, errors);
    std::size_t pos = 0;
    bool first = true;
    while (true) {
        while (pos < cmdline.size() && is_space(cmdline[pos])) ++pos;
        if (pos == cmdline.size()) break;
        // Unquote one word into storage: "..." groups keep spaces, a backslash takes the next
        // character literally (what GRUB's loader command line produces for quoted arguments).
        char* start = config.storage + config.storage_used;
        std::size_t len = 0;
        bool in_quotes = false;
        bool overflow = false;
        for (; pos < cmdline.size(); ++pos) {
            char c = cmdline[pos];
            if (!in_quotes && is_space(c)) break;
            if (c == '"') {
                in_quotes = !in_quotes;
                continue;
            }
            if (c == '\\' && pos + 1 < cmdline.size()) c = cmdline[++pos];
            if (config.storage_used + len < Config::kStorage) {
                start[len++] = c;
            } else {
                overflow = true;
            }
        }
        if (overflow) {
            parser.complain_start();
            errors.write("the command line is longer than tandem accepts (4096 bytes)\n");
            break;
        }
        if (in_quotes) {
            parser.complain_start();
            errors.write("a quote is not closed\n");
            break;
        }
        config.storage_used += len;
        std::string_view word{start, len};
        if (first && skip_first_word && word.find('=') == std::string_view::npos) {
            first = false;
            continue;
        }
        first = false;
        parser.token(word);
    }
    parser.finish();
    return parser.problems();
}

}  // namespace tandem
