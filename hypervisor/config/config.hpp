// tandem's configuration, from the kernel command line GRUB passes (README: "Command line").
// Every key is validated; an unknown key or a bad value is reported with the key's name and
// what it accepts, and tandem refuses to start rather than fall back to a default.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "hypervisor/config/vocabulary.hpp"
#include "hypervisor/console/writer.hpp"

namespace tandem {

enum class Selftest : std::uint8_t { none, invalid_opcode, write_text, exec_data, null_deref };
// How a test guest is entered: from its ELF class (64-bit: long mode, 32-bit: protected mode),
// or in real mode on request.
enum class GuestEntryChoice : std::uint8_t { automatic, real, protected_mode, long_mode };

// The bounds of epoch_ms=, also of the shell's `epoch`.
inline constexpr std::uint32_t kMinEpochMs = 1, kMaxEpochMs = 10000;

struct Config {
    Role role = Role::primary;
    Mode mode = Mode::standalone;
    std::uint32_t epoch_ms = 25;
    std::uint64_t guest_mem = 128ull << 20;
    std::uint32_t failover_ms = 300;
    std::uint32_t migrate_max_s = 600;  // a live migration not done by then is given up (the guest stays)
    std::uint32_t migrate_downtime_ms = 50;  // the guest stops for its last copy once that fits (auto-converge)
    // mode=lockstep (issue 13): how long a guest's frame may wait for the other guest's before
    // the pair checkpoints, and the longest time between two checkpoints.
    std::uint32_t lockstep_wait_ms = 100;
    std::uint32_t lockstep_max_ms = 1000;
    DirtyTracking dirty = DirtyTracking::automatic;
    bool has_key = false;
    std::uint8_t key[32]{};
    bool has_peer_mac = false;
    MacAddress peer_mac{};
    NicSelector link_nic;
    NicSelector client_nic;
    bool insecure_link = false;
    // The link as UDP over IPv4 (link_ip=, peer_ip=, link_gateway=, link_port=) instead of raw
    // Ethernet: for peers on another subnet, through routers.
    bool link_over_udp = false;
    std::uint8_t link_ip[4]{};
    std::uint8_t link_prefix = 0;
    std::uint8_t peer_ip[4]{};
    bool has_link_gateway = false;
    std::uint8_t link_gateway[4]{};
    std::uint32_t link_port = 7455;
    bool link_key_module = false;    // set at boot, not a key: a GRUB module named link_key is loaded
    std::string_view guest_kernel;   // module name
    std::string_view guest_initrd;   // module name
    std::string_view guest_cmdline;
    GuestEntryChoice guest_entry = GuestEntryChoice::automatic;
    PeerChoice peer = PeerChoice::link;
    CaptureChoice capture = CaptureChoice::cow;
    std::uint32_t failover_at = 0;   // epoch at which a local-loopback primary is stopped (0: never)
    std::uint32_t verify_every = 0;  // compare backup and primary every this many epochs (0: never)
    std::uint32_t restore_every = 0;  // restore a local-loopback guest from its backup image every N epochs (0: never)
    bool epoch_report = false;       // print every epoch's figures at the end (benchmarks)
    bool has_guest_mac = false;       // the guest gets a virtio-net card with this MAC
    MacAddress guest_mac{};
    bool has_guest_ip = false;        // announced by gratuitous ARP when a backup takes over
    std::uint8_t guest_ip[4]{};
    std::uint32_t linktest_mib = 64;  // mode=linktest: MiB each side sends
    std::uint32_t link_version = 0;   // diagnostic: announce this link protocol version (0: ours)
    Selftest selftest = Selftest::none;
    bool dump_boot_info = false;

    // Unquoted copies of the values above live here (string_views point into it).
    static constexpr std::size_t kStorage = 4096;
    char storage[kStorage]{};
    std::size_t storage_used = 0;
};

// Parses `cmdline` (GRUB quoting: "..." groups, backslash escapes) into `config`, writing one
// "config: ..." line per problem to `errors`. Returns the number of problems (0 = valid).
// `skip_first_word` drops a leading image path (multiboot 1 loaders put it there).
std::size_t parse_command_line(std::string_view cmdline, Config& config, Writer& errors,
                               bool skip_first_word = false);

}  // namespace tandem
