// Command-line configuration (hypervisor/config/config.hpp): every key, GRUB quoting, and the
// exact wording of every complaint.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>

#include "helpers.hpp"
#include "hypervisor/config/config.hpp"

using namespace tandem;

namespace {

constexpr const char* kKnownKeys =
    "role, mode, epoch_ms, guest_mem, failover_ms, dirty, key, peer_mac, link_nic, client_nic, insecure_link, "
    "guest_kernel, guest_initrd, guest_cmdline, guest_entry, peer, capture, failover_at, verify_every, "
    "restore_every, epoch_report, guest_mac, guest_ip, linktest_mib, link_version, selftest, dump_boot_info, "
    "migrate_max_s, migrate_downtime_ms, link_ip, peer_ip, link_gateway, link_port, lockstep_wait_ms, lockstep_max_ms";

struct Parsed {
    std::unique_ptr<Config> config = std::make_unique<Config>();  // 4 KiB of storage: not on the stack
    test::StringWriter errors;
    std::size_t problems = 0;
    const Config* operator->() const { return config.get(); }
};

std::unique_ptr<Parsed> parse(std::string_view cmdline, bool skip_first_word = false) {
    auto p = std::make_unique<Parsed>();
    p->problems = parse_command_line(cmdline, *p->config, p->errors, skip_first_word);
    return p;
}

// Parses one key=value that must be accepted.
std::unique_ptr<Parsed> good(std::string_view cmdline) {
    auto p = parse(cmdline);
    CAPTURE(cmdline);
    CHECK(p->problems == 0);
    CHECK(p->errors.str() == "");
    return p;
}

// One bad value: exactly one problem, reported with this text.
void bad(std::string_view cmdline, const std::string& expected_line) {
    auto p = parse(cmdline);
    CAPTURE(cmdline);
    CHECK(p->problems == 1);
    CHECK(p->errors.str() == expected_line + "\n");
}

std::string bad_value(const std::string& value, const std::string& key, const std::string& accepted) {
    return "config: bad value '" + value + "' for " + key + " (accepted: " + accepted + ")";
}

}  // namespace

TEST_SUITE("config") {

TEST_CASE("an empty command line gives the defaults") {
    for (const char* line : {"", "   ", " \t\r\n "}) {
        auto p = good(line);
        const Config& c = *p->config;
        CHECK(c.role == Role::primary);
        CHECK(c.mode == Mode::standalone);
        CHECK(c.epoch_ms == 25);
        CHECK(c.guest_mem == 128ull << 20);
        CHECK(c.failover_ms == 300);
        CHECK(c.dirty == DirtyTracking::automatic);
        CHECK_FALSE(c.has_key);
        CHECK_FALSE(c.has_peer_mac);
        CHECK(c.link_nic.kind == NicSelector::Kind::none);
        CHECK(c.client_nic.kind == NicSelector::Kind::none);
        CHECK_FALSE(c.insecure_link);
        CHECK(c.guest_kernel.empty());
        CHECK(c.guest_initrd.empty());
        CHECK(c.guest_cmdline.empty());
        CHECK(c.guest_entry == GuestEntryChoice::automatic);
        CHECK(c.selftest == Selftest::none);
        CHECK_FALSE(c.dump_boot_info);
        CHECK(c.storage_used == 0);
    }
}

TEST_CASE("choice keys") {
    CHECK(good("role=backup")->config->role == Role::backup);
    CHECK(good("role=primary")->config->role == Role::primary);
    CHECK(good("mode=checkpoint")->config->mode == Mode::checkpoint);
    CHECK(good("mode=lockstep")->config->mode == Mode::lockstep);
    CHECK(good("mode=migrate")->config->mode == Mode::migrate);
    CHECK(good("mode=migrate")->config->role == Role::backup);  // on the link the target takes the copy
    CHECK(good("mode=migrate role=backup")->config->role == Role::backup);
    CHECK(good("mode=linktest")->config->mode == Mode::linktest);
    CHECK(good("dirty=pml")->config->dirty == DirtyTracking::pml);
    CHECK(good("dirty=ad")->config->dirty == DirtyTracking::ad_bits);
    CHECK(good("dirty=wp")->config->dirty == DirtyTracking::write_protect);
    CHECK(good("dirty=auto")->config->dirty == DirtyTracking::automatic);
    CHECK(good("selftest=invalid-opcode")->config->selftest == Selftest::invalid_opcode);
    CHECK(good("selftest=write-text")->config->selftest == Selftest::write_text);
    CHECK(good("selftest=exec-data")->config->selftest == Selftest::exec_data);
    CHECK(good("selftest=null-deref")->config->selftest == Selftest::null_deref);
    CHECK(good("insecure_link=1")->config->insecure_link);
    CHECK_FALSE(good("insecure_link=0")->config->insecure_link);
    CHECK(good("dump_boot_info=1")->config->dump_boot_info);
    CHECK(good("guest_entry=real")->config->guest_entry == GuestEntryChoice::real);
    CHECK(good("guest_entry=protected")->config->guest_entry == GuestEntryChoice::protected_mode);
    CHECK(good("guest_entry=long")->config->guest_entry == GuestEntryChoice::long_mode);
    CHECK(good("guest_entry=auto")->config->guest_entry == GuestEntryChoice::automatic);

    bad("mode=migrate role=primary",
        "config: mode=migrate is for the machine that receives the guest (it takes no role=, or role=backup); the "
        "machine that runs the guest keeps its mode (checkpoint role=primary, or standalone with a link key) and is told "
        "to migrate on its console");
    bad("mode=standalone role=backup",
        "config: mode=standalone runs the guest on this machine: role=backup belongs to mode=checkpoint (a pair's "
        "backup) or mode=migrate (a migration's target)");
    CHECK(good("role=backup")->config->role == Role::backup);  // the default mode, not named: as before

    // The link over UDP/IPv4.
    auto udp = good("link_ip=10.1.0.2/24 peer_ip=10.2.0.2 link_gateway=10.1.0.1 link_port=9000");
    CHECK(udp->config->link_over_udp);
    CHECK(udp->config->link_prefix == 24);
    CHECK(udp->config->peer_ip[1] == 2);
    CHECK(udp->config->link_gateway[3] == 1);
    CHECK(udp->config->link_port == 9000);
    CHECK(good("link_ip=10.1.0.2/24 peer_ip=10.1.0.3")->config->link_port == 7455);
    CHECK_FALSE(good("")->config->link_over_udp);
    bad("link_ip=10.1.0.2", "config: bad value '10.1.0.2' for link_ip (accepted: an IPv4 address with its prefix length "
                            "(1 to 30) like 10.1.0.2/24)");
    bad("link_ip=10.1.0.2/31 peer_ip=10.1.0.3", "config: bad value '10.1.0.2/31' for link_ip (accepted: an IPv4 address "
                                                "with its prefix length (1 to 30) like 10.1.0.2/24)");
    bad("link_ip=10.1.0.2/24", "config: the link over UDP/IPv4 needs link_ip= (this machine's address and prefix on the "
                               "link NIC's network) and peer_ip= (the other machine's); link_gateway= and link_port= only "
                               "go with them");
    bad("link_port=80", "config: the link over UDP/IPv4 needs link_ip= (this machine's address and prefix on the link "
                        "NIC's network) and peer_ip= (the other machine's); link_gateway= and link_port= only go with them");
    bad("link_ip=10.1.0.2/24 peer_ip=10.2.0.2",
        "config: peer_ip= is not on link_ip='s network: link_gateway= names the router towards it");
    bad("link_ip=10.1.0.2/24 peer_ip=10.2.0.2 link_gateway=10.3.0.1",
        "config: link_gateway= is not on link_ip='s network: the router must be reachable on the link NIC");
    bad("link_ip=10.1.0.2/24 peer_ip=10.1.0.3 peer_mac=52:54:00:00:01:02",
        "config: peer_mac= names a peer on the same Ethernet; over UDP/IPv4 the peer is found by peer_ip=");
    bad("mode=linktest link_ip=10.1.0.2/24 peer_ip=10.1.0.3",
        "config: mode=linktest runs on raw Ethernet only: leave out link_ip= and peer_ip=");
    bad("link_port=0 link_ip=10.1.0.2/24 peer_ip=10.1.0.3",
        "config: bad value '0' for link_port (accepted: an integer from 1 to 65535)");
    bad("mode=migrate peer=local",
        "config: mode=migrate receives the guest over the replication link: peer=local cannot be a target");
    CHECK(good("migrate_max_s=30")->config->migrate_max_s == 30);
    CHECK(good("")->config->migrate_max_s == 600);
    bad("migrate_max_s=0", "config: bad value '0' for migrate_max_s (accepted: an integer from 1 to 86400)");
    CHECK(good("")->config->migrate_downtime_ms == 50);
    CHECK(good("migrate_downtime_ms=300")->config->migrate_downtime_ms == 300);
    bad("migrate_downtime_ms=0", "config: bad value '0' for migrate_downtime_ms (accepted: an integer from 1 to 60000)");
    bad("migrate_downtime_ms=60001",
        "config: bad value '60001' for migrate_downtime_ms (accepted: an integer from 1 to 60000)");
    bad("mode=fast", "config: bad value 'fast' for mode (accepted: standalone, checkpoint, lockstep, migrate, linktest)");
    bad("role=Primary", bad_value("Primary", "role", "primary, backup"));
    bad("role=", bad_value("", "role", "primary, backup"));
    bad("dirty=dirty", bad_value("dirty", "dirty", "auto, pml, ad, wp"));
    bad("selftest=boom", bad_value("boom", "selftest", "none, invalid-opcode, write-text, exec-data, null-deref"));
    bad("insecure_link=yes", bad_value("yes", "insecure_link", "0, 1"));
    bad("dump_boot_info=true", bad_value("true", "dump_boot_info", "0, 1"));
    bad("guest_entry=64", bad_value("64", "guest_entry", "auto, real, protected, long"));
    CHECK(good("peer=local")->config->peer == PeerChoice::local);
    CHECK(good("peer=link")->config->peer == PeerChoice::link);
    CHECK(good("capture=copy")->config->capture == CaptureChoice::copy);
    CHECK(good("capture=cow")->config->capture == CaptureChoice::cow);
    CHECK(good("failover_at=40")->config->failover_at == 40);
    CHECK(good("verify_every=5")->config->verify_every == 5);
    CHECK(good("epoch_report=1")->config->epoch_report);
    bad("peer=remote", bad_value("remote", "peer", "link, local"));
    CHECK(good("guest_mac=52:54:00:12:34:56")->config->has_guest_mac);
    CHECK(good("guest_ip=10.0.2.15")->config->guest_ip[3] == 15);
    bad("guest_mac=01:00:5e:00:00:01", bad_value("01:00:5e:00:00:01", "guest_mac", "a unicast MAC address like 52:54:00:12:34:56"));
    bad("guest_ip=10.0.2", bad_value("10.0.2", "guest_ip", "an IPv4 address like 10.0.2.15"));
    bad("guest_ip=10.0.2.256", bad_value("10.0.2.256", "guest_ip", "an IPv4 address like 10.0.2.15"));
    bad("capture=both", bad_value("both", "capture", "cow, copy"));
    bad("failover_at=0", "config: bad value '0' for failover_at (accepted: an integer from 1 to 1000000)");
    bad("verify_every=x", "config: bad value 'x' for verify_every (accepted: an integer from 1 to 1000000)");
    CHECK(parse("mode=fast")->config->mode == Mode::standalone);  // a bad value changes nothing

    CHECK(std::string(role_name(Role::backup)) == "backup");
    CHECK(std::string(mode_name(Mode::linktest)) == "linktest");
    CHECK(std::string(dirty_tracking_name(DirtyTracking::automatic)) == "auto");
    CHECK(std::string(dirty_tracking_name(DirtyTracking::write_protect)) == "wp");
}

TEST_CASE("integer keys and their bounds") {
    CHECK(good("epoch_ms=1")->config->epoch_ms == 1);
    CHECK(good("epoch_ms=10000")->config->epoch_ms == 10000);
    CHECK(good("epoch_ms=0050")->config->epoch_ms == 50);
    CHECK(good("failover_ms=10")->config->failover_ms == 10);
    CHECK(good("failover_ms=600000")->config->failover_ms == 600000);
    const std::string epoch = "an integer from 1 to 10000";
    for (const char* v : {"0", "10001", "", "-1", "+5", "1e3", "12a", "0x10", "99999999999999999999"}) {
        bad(std::string("epoch_ms=") + v, bad_value(v, "epoch_ms", epoch));
    }
    bad("failover_ms=9", bad_value("9", "failover_ms", "an integer from 10 to 600000"));
    bad("failover_ms=600001", bad_value("600001", "failover_ms", "an integer from 10 to 600000"));
    bad("failover_ms=4294967306", bad_value("4294967306", "failover_ms", "an integer from 10 to 600000"));
}

TEST_CASE("mode=lockstep: its keys, their bounds, and where they do not belong") {
    auto p = good("mode=lockstep role=backup lockstep_wait_ms=40 lockstep_max_ms=2000");
    CHECK(p->config->mode == Mode::lockstep);
    CHECK(p->config->role == Role::backup);
    CHECK(p->config->lockstep_wait_ms == 40);
    CHECK(p->config->lockstep_max_ms == 2000);
    CHECK(good("mode=lockstep")->config->lockstep_wait_ms == 100);
    CHECK(good("mode=lockstep")->config->lockstep_max_ms == 1000);
    bad("mode=lockstep lockstep_wait_ms=0", bad_value("0", "lockstep_wait_ms", "an integer from 1 to 60000"));
    bad("mode=lockstep lockstep_max_ms=9", bad_value("9", "lockstep_max_ms", "an integer from 10 to 600000"));
    bad("mode=lockstep peer=local",
        "config: mode=lockstep runs both guests, one on each machine of a pair: peer=local cannot be one");
    bad("mode=checkpoint lockstep_max_ms=500", "config: lockstep_wait_ms= and lockstep_max_ms= belong to mode=lockstep");
}

TEST_CASE("restore_every: accepted values and bad ones") {
    CHECK(good("")->config->restore_every == 0);  // never, unless asked
    CHECK(good("restore_every=1")->config->restore_every == 1);
    CHECK(good("restore_every=250")->config->restore_every == 250);
    CHECK(good("restore_every=1000000")->config->restore_every == 1000000);
    auto p = good("mode=checkpoint peer=local epoch_ms=10 verify_every=100 failover_at=1001 restore_every=1");
    CHECK(p->config->restore_every == 1);
    CHECK(p->config->failover_at == 1001);
    const std::string accepted = "an integer from 1 to 1000000";
    for (const char* v : {"0", "1000001", "", "x", "-1", "+1", "1.5", "0x10", "99999999999999999999"}) {
        bad(std::string("restore_every=") + v, bad_value(v, "restore_every", accepted));
        CHECK(parse(std::string("restore_every=") + v)->config->restore_every == 0);  // a bad value changes nothing
    }
    p = parse("restore_every=2 restore_every=3");
    CHECK(p->problems == 1);
    CHECK(p->errors.str() == "config: 'restore_every' is given more than once\n");
    CHECK(p->config->restore_every == 2);
}

TEST_CASE("guest_mem: suffixes, bounds, 2 MiB multiples") {
    CHECK(good("guest_mem=16M")->config->guest_mem == 16ull << 20);
    CHECK(good("guest_mem=256m")->config->guest_mem == 256ull << 20);
    CHECK(good("guest_mem=1G")->config->guest_mem == 1ull << 30);
    CHECK(good("guest_mem=64g")->config->guest_mem == 64ull << 30);
    CHECK(good("guest_mem=262144K")->config->guest_mem == 256ull << 20);
    CHECK(good("guest_mem=32768k")->config->guest_mem == 32ull << 20);
    CHECK(good("guest_mem=33554432")->config->guest_mem == 32ull << 20);
    const std::string accepted = "a multiple of 2M from 16M to 64G, e.g. 256M or 1G";
    // Too small, too large, not a 2 MiB multiple, malformed, and a count whose shift would wrap
    // around 2^64 into the valid range ((2^34 + 1) << 30 == 1 GiB modulo 2^64).
    for (const char* v : {"14M", "15728640", "65G", "64G1", "17M", "3K", "M", "", "1T", "1.5G", "-16M",
                          "17179869185G", "16MM"}) {
        bad(std::string("guest_mem=") + v, bad_value(v, "guest_mem", accepted));
    }
    CHECK(parse("guest_mem=17M")->config->guest_mem == 128ull << 20);
}

TEST_CASE("key, peer_mac, link_nic and client_nic") {
    const std::string hex64 = "000102030405060708090a0b0c0d0e0f101112131415161718191A1B1C1D1E1F";
    auto p = good("key=" + hex64);
    REQUIRE(p->config->has_key);
    for (unsigned i = 0; i < 32; ++i) CHECK(p->config->key[i] == i);
    const std::string key_accepts = "64 hexadecimal digits (a 256-bit key)";
    for (const std::string& v : {hex64.substr(0, 63), hex64 + "0", "g" + hex64.substr(1), std::string()}) {
        bad("key=" + v, bad_value(v, "key", key_accepts));
        CHECK_FALSE(parse("key=" + v)->config->has_key);
    }

    p = good("peer_mac=52:54:00:AB:cd:ef");
    REQUIRE(p->config->has_peer_mac);
    const std::uint8_t mac[] = {0x52, 0x54, 0x00, 0xab, 0xcd, 0xef};
    CHECK(std::memcmp(p->config->peer_mac.bytes, mac, 6) == 0);
    const std::string mac_accepts = "a MAC address like 52:54:00:12:34:56";
    for (const char* v : {"52-54-00-ab-cd-ef", "52:54:00:ab:cd:e", "52:54:00:ab:cd:efa", "52:54:00:ab:cd:eg", "52:54"}) {
        bad(std::string("peer_mac=") + v, bad_value(v, "peer_mac", mac_accepts));
    }

    p = good("link_nic=00:03.0 client_nic=ff:1f.7");
    CHECK(p->config->link_nic.kind == NicSelector::Kind::pci);
    CHECK(p->config->link_nic.bus == 0);
    CHECK(p->config->link_nic.device == 3);
    CHECK(p->config->link_nic.function == 0);
    CHECK(p->config->client_nic.kind == NicSelector::Kind::pci);
    CHECK(p->config->client_nic.bus == 0xff);
    CHECK(p->config->client_nic.device == 31);
    CHECK(p->config->client_nic.function == 7);
    p = good("client_nic=52:54:00:12:34:56");
    CHECK(p->config->client_nic.kind == NicSelector::Kind::mac);
    CHECK(std::memcmp(p->config->client_nic.mac.bytes, "\x52\x54\x00\x12\x34\x56", 6) == 0);
    CHECK(p->config->link_nic.kind == NicSelector::Kind::none);
    const std::string nic_accepts = "a PCI address like 00:03.0 or a MAC address like 52:54:00:12:34:56";
    for (const char* v : {"00:20.0", "00:03.8", "0:03.0", "00.03:0", "eth0", "00:03.0 "}) {
        bad(std::string("link_nic=\"") + v + "\"", bad_value(v, "link_nic", nic_accepts));
    }
    bad("client_nic=", bad_value("", "client_nic", nic_accepts));
}

TEST_CASE("string keys, GRUB quoting and escapes") {
    auto p = good("guest_kernel=kernel guest_initrd=initrd");
    CHECK(p->config->guest_kernel == "kernel");
    CHECK(p->config->guest_initrd == "initrd");
    p = good("dump_boot_info=1 mode=standalone \"guest_cmdline=console=ttyS0 quiet\"");
    CHECK(p->config->dump_boot_info);
    CHECK(p->config->guest_cmdline == "console=ttyS0 quiet");
    CHECK(good("guest_cmdline=\"a  b\"c")->config->guest_cmdline == "a  bc");  // quotes may start mid-word
    CHECK(good(R"(guest_cmdline=a\ b\"c\\d)")->config->guest_cmdline == R"(a b"c\d)");
    CHECK(good(R"("guest_cmdline=x \"y z\"")")->config->guest_cmdline == R"(x "y z")");
    CHECK(good(R"(guest_kernel=abc\)")->config->guest_kernel == R"(abc\)");  // a final backslash is literal
    CHECK(good("\tguest_kernel=k\n\rmode=lockstep\t")->config->mode == Mode::lockstep);
    bad("guest_kernel=", bad_value("", "guest_kernel", "a non-empty string"));
    bad("guest_cmdline=\"\"", bad_value("", "guest_cmdline", "a non-empty string"));
}

TEST_CASE("unknown keys, words without '=', repeated keys") {
    bad("bogus=1", std::string("config: unknown key 'bogus' (known keys: ") + kKnownKeys + ")");
    bad("Mode=checkpoint", std::string("config: unknown key 'Mode' (known keys: ") + kKnownKeys + ")");
    bad("quiet", std::string("config: 'quiet' is not key=value (known keys: ") + kKnownKeys + ")");
    bad("=standalone", std::string("config: '=standalone' is not key=value (known keys: ") + kKnownKeys + ")");
    bad("\"\"", std::string("config: '' is not key=value (known keys: ") + kKnownKeys + ")");

    auto p = parse("mode=checkpoint mode=lockstep");
    CHECK(p->problems == 1);
    CHECK(p->errors.str() == "config: 'mode' is given more than once\n");
    CHECK(p->config->mode == Mode::checkpoint);  // the first one stands
    p = parse("mode=fast mode=checkpoint");  // a bad first value still counts as given
    CHECK(p->problems == 2);
    CHECK(p->config->mode == Mode::standalone);
}

TEST_CASE("several problems are all reported and counted") {
    auto p = parse("bogus=1 mode=fast epoch_ms=0 quiet role=backup guest_mem=1M");
    CHECK(p->problems == 5);
    const std::string& e = p->errors.str();
    std::size_t lines = 0;
    for (std::size_t at = 0; (at = e.find("config: ", at)) != std::string::npos; at += 8) ++lines;
    CHECK(lines == 5);
    CHECK(std::count(e.begin(), e.end(), '\n') == 5);
    CHECK(e.find("unknown key 'bogus'") != std::string::npos);
    CHECK(e.find("bad value 'fast' for mode") != std::string::npos);
    CHECK(e.find("bad value '0' for epoch_ms") != std::string::npos);
    CHECK(e.find("'quiet' is not key=value") != std::string::npos);
    CHECK(e.find("bad value '1M' for guest_mem") != std::string::npos);
    CHECK(p->config->role == Role::backup);  // good keys among bad ones still apply
}

TEST_CASE("unterminated quotes and over-long command lines stop the parse") {
    auto p = parse("mode=checkpoint \"guest_cmdline=abc role=backup");
    CHECK(p->problems == 1);
    CHECK(p->errors.str() == "config: a quote is not closed\n");
    CHECK(p->config->mode == Mode::checkpoint);
    CHECK(p->config->guest_cmdline.empty());

    // Exactly 4096 unquoted bytes fit (quotes and spaces between words are not stored).
    std::string fits = "\"guest_cmdline=" + std::string(4096 - 14, 'x') + "\"";
    p = good(fits);
    CHECK(p->config->guest_cmdline.size() == 4096 - 14);
    CHECK(p->config->storage_used == 4096);

    p = parse(fits + " y");
    CHECK(p->problems == 1);
    CHECK(p->errors.str() == "config: the command line is longer than tandem accepts (4096 bytes)\n");
    p = parse("mode=lockstep guest_cmdline=" + std::string(5000, 'y') + " role=backup");
    CHECK(p->problems == 1);
    CHECK(p->errors.str() == "config: the command line is longer than tandem accepts (4096 bytes)\n");
    CHECK(p->config->mode == Mode::lockstep);
    CHECK(p->config->role == Role::primary);  // nothing after the overflow is parsed
    CHECK(p->config->storage_used <= Config::kStorage);
}

TEST_CASE("skip_first_word drops a leading image path (multiboot 1)") {
    auto p = parse("/boot/tandem.elf mode=checkpoint", true);
    CHECK(p->problems == 0);
    CHECK(p->config->mode == Mode::checkpoint);

    p = parse("/boot/tandem.elf mode=checkpoint", false);
    CHECK(p->problems == 1);
    CHECK(p->errors.str() ==
          std::string("config: '/boot/tandem.elf' is not key=value (known keys: ") + kKnownKeys + ")\n");

    p = parse("mode=lockstep role=backup", true);  // a first word with '=' is a setting, not a path
    CHECK(p->problems == 0);
    CHECK(p->config->mode == Mode::lockstep);
    CHECK(p->config->role == Role::backup);

    p = parse("  /a /b", true);  // only the first word is skipped
    CHECK(p->problems == 1);
    CHECK(p->errors.str().find("'/b' is not key=value") != std::string::npos);
}

}  // TEST_SUITE
