#include "arch-x86_64/boot/link_runner.hpp"

#include "arch-x86_64/cpu/intrinsics.hpp"
#include "arch-x86_64/serial/console_uart.hpp"
#include "hypervisor/console/console.hpp"
#include "hypervisor/console/shell.hpp"
#include "replication/link/linktest.hpp"
#include "replication/link/transport.hpp"

namespace tandem::x86 {
namespace {

class NicChannel final : public link::FrameChannel {
public:
    explicit NicChannel(nic::Nic& nic) : nic_(nic) {}
    Status transmit(std::span<const std::uint8_t> frame) override {
        nic::Frame f = frame;
        if (nic_.transmit({&f, 1}) == 1) return success();
        return Error::of("link: the NIC's transmit ring is full");
    }

private:
    nic::Nic& nic_;
};

class TscClock final : public link::Clock {
public:
    explicit TscClock(std::uint64_t khz) : khz_(khz == 0 ? 1'000'000 : khz) {}
    std::uint64_t now_ns() override {
        std::uint64_t t = rdtsc();
        return t / khz_ * 1'000'000 + t % khz_ * 1'000'000 / khz_;
    }

private:
    std::uint64_t khz_;
};

int hex_digit(std::uint8_t c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// The key: key= on the command line, or a module named link_key holding 64 hex digits
// (surrounding whitespace allowed). Both at once is ambiguous and refused.
Result<link::LinkSecret> link_secret(const Config& config, const boot::BootInfo& boot) {
    std::uint8_t key[32]{};
    bool has_key = config.has_key;
    for (std::size_t i = 0; i < 32; ++i) key[i] = config.key[i];
    for (const boot::BootModule& m : boot.module_list()) {
        if (m.cmdline.substr(0, m.cmdline.find(' ')) != "link_key") continue;
        if (has_key) return Error::of("both key= and a link_key module give a key: use one");
        std::span<const std::uint8_t> text{reinterpret_cast<const std::uint8_t*>(m.start),
                                           static_cast<std::size_t>(m.end - m.start)};
        std::size_t digits = 0;
        for (std::uint8_t c : text) {
            if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
            int d = hex_digit(c);
            if (d < 0 || digits == 64) return Error::of("the link_key module is not 64 hexadecimal digits");
            key[digits / 2] = static_cast<std::uint8_t>(key[digits / 2] << 4 | d);
            ++digits;
        }
        if (digits != 64) return Error::of("the link_key module is not 64 hexadecimal digits; digits found", digits);
        has_key = true;
    }
    return link::make_link_secret(has_key, key, config.insecure_link);
}

std::uint64_t session_id() {
    std::uint64_t value = 0;
    if ((cpuid(1).ecx >> 30) & 1) {
        for (int i = 0; i < 10; ++i) {
            if (rdrand64(value) && value != 0) return value;
        }
    }
    // No RDRAND: the TSC, scrambled. Both sides contribute to the traffic keys, so a repeat on
    // one side alone does not repeat a nonce (link_keys.hpp).
    value = rdtsc() * 0x9e3779b97f4a7c15ull;
    return value == 0 ? 1 : value;
}

void command_link(void* context, std::string_view, Writer& out) {
    static_cast<link::Transport*>(context)->report(out);
}

}  // namespace

void run_linktest(const Config& config, const boot::BootInfo& boot, nic::Nic& link_nic, std::uint64_t tsc_khz) {
    Writer& out = console();
    auto secret = link_secret(config, boot);
    if (!secret) {
        println(out, "link: {}", secret.error());
        println(out, "tandem: cannot start: no usable link key");
        println(out, "tandem: halted");
        halt_forever();
    }
    nic::NicInfo info = link_nic.info();
    static NicChannel channel(link_nic);
    static TscClock clock(tsc_khz);
    static link::LinkTest test(config.role, static_cast<std::uint64_t>(config.linktest_mib) << 20);
    static link::Transport transport(channel, clock, test);
    test.attach(transport);

    link::TransportConfig tc;
    tc.role = config.role;
    tc.session_id = session_id();
    tc.local_mac = info.mac;
    tc.has_peer_mac = config.has_peer_mac;
    tc.peer_mac = config.peer_mac;
    tc.mtu = info.mtu;
    tc.guest_memory = config.guest_mem;
    if (config.link_version != 0) tc.protocol_version = static_cast<std::uint8_t>(config.link_version);
    if (auto s = transport.start(tc, *secret); !s) {
        println(out, "link: {}", s.error());
        println(out, "tandem: halted");
        halt_forever();
    }
    println(out, "linktest: {} MiB each way as {} over {} ({}), {}", config.linktest_mib, role_name(config.role),
            info.driver, ColonHex{info.mac.bytes, 6}, secret->insecure ? "INSECURE (insecure_link=1)" : "authenticated and encrypted");

    static Shell shell(out);
    (void)shell.add({"link", "the replication link's state and counters", command_link, &transport});

    struct Sink final : nic::FrameSink {
        link::Transport* t;
        void frame(nic::Frame f) override { t->on_frame(f); }
    } sink;
    sink.t = &transport;

    std::uint64_t started = 0, last_progress = rdtsc();
    bool reported_refusal = false, reported_done = false, established = false;
    std::uint64_t progress_ticks = tsc_khz * 2000;
    for (;;) {
        link_nic.receive(sink, 64);
        transport.poll();
        test.pump();
        if (auto c = console_uart().try_read()) shell.feed(*c);

        if (!established && transport.established()) {
            established = true;
            started = rdtsc();
            println(out, "linktest: link established with the {} (peer session {}), link MTU {}",
                    role_name(transport.peer_params().role), hex(transport.peer_session(), 16), transport.link_mtu());
        }
        if (transport.refusal() != nullptr && !reported_refusal) {
            reported_refusal = true;
            if (transport.refusal()->field == link::HandshakeField::key_id) {
                println(out, "linktest: authentication failure: the peer does not hold this link key");
            }
            println(out, "linktest: {}", transport.refusal_error());
            transport.report(out);
            println(out, "tandem: the link was refused; tandem keeps running (console: type 'link')");
        }
        if (established && test.done() && !reported_done) {
            reported_done = true;
            std::uint64_t ticks = rdtsc() - started;
            std::uint64_t bytes = test.bytes_sent() + test.bytes_received();
            std::uint64_t ms = ticks / (tsc_khz == 0 ? 1 : tsc_khz);
            std::uint64_t kib_per_s = ms == 0 ? 0 : bytes / 1024 * 1000 / ms;
            test.report(out);
            println(out, "linktest: {} in {} ms: {} KiB/s both directions together", Bytes{bytes}, ms, kib_per_s);
            transport.report(out);
            nic::print_counters(out, link_nic.counters());
            println(out, "linktest: complete; tandem keeps serving the link and the console");
        }
        if (established && !reported_done && rdtsc() - last_progress > progress_ticks) {
            last_progress = rdtsc();
            const link::TransportStats& st = transport.stats();
            println(out, "linktest: progress: sent {} received {}, {} retransmissions, {} rejected (tag {}, replay {}, malformed {})",
                    Bytes{test.bytes_sent()}, Bytes{test.bytes_received()}, st.retransmissions,
                    st.rejected_bad_tag + st.rejected_replay + st.rejected_malformed, st.rejected_bad_tag, st.rejected_replay,
                    st.rejected_malformed);
        }
    }
}

}  // namespace tandem::x86
