#include "arch-x86_64/boot/link_runner.hpp"

#include "arch-x86_64/boot/link_glue.hpp"

#include "arch-x86_64/cpu/intrinsics.hpp"
#include "arch-x86_64/serial/console_uart.hpp"
#include "hypervisor/console/console.hpp"
#include "hypervisor/console/shell.hpp"
#include "replication/link/linktest.hpp"
#include "replication/link/transport.hpp"

namespace tandem::x86 {
namespace {

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

    salt_session_ids(info.mac);
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
