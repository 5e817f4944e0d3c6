// The modes' session objects on the host, through the same code the image runs
// (replication/sessions/): a FakeMachine implements SessionMachine (and the VcpuWiring the guest
// machine is built around) over fakes at the hardware edges only — guest RAM and working memory
// in host buffers behind a real FrameAllocator and MemorySource, EPT and PML as the checkpoint
// tests fake them (ckpt_fake_ept.hpp), a vCPU whose captured state is its TSC, the link NIC on a
// SimLink, the client NIC on a shared simulated wire. The GuestMachine (UART, virtio-net with
// guest_mac=), the GuestNetwork, the split-brain probes, the takeover and the replicators are
// the production ones.
//
// SessionPairRig steps machines in simulated time: every millisecond a running primary's guest
// writes memory and its UART's scratch register, then the session's timer event and the tick
// listeners run, as the vCPU loop does; a backup's session is polled at every step.
#pragma once

#include <doctest/doctest.h>

#include <deque>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "ckpt_fake_ept.hpp"
#include "link_pair.hpp"
#include "link_sim.hpp"
#include "replication/sessions/pair_session.hpp"
#include "vmx_fake_host_memory.hpp"

namespace session_test {

inline constexpr std::uint64_t kPage = 4096;
inline constexpr std::uint64_t kGuestMem = 2ull << 20;  // the smallest guest RAM: one 2 MiB chunk

inline std::uint64_t g_random_state = 77;
inline std::uint64_t rig_random() { return test::mix64(++g_random_state) | 1; }

struct StringWriter final : tandem::Writer {
    void write(std::string_view text) override { text_.append(text); }
    bool contains(std::string_view s) const { return text_.find(s) != std::string::npos; }
    std::string text_;
};

// The client network: every frame a machine's client NIC sends reaches every other attached
// NIC (a hub), unless the sender is cut off.
class ClientWire;

class FakeClientNic final : public tandem::nic::Nic {
public:
    FakeClientNic(ClientWire& wire, std::uint8_t id) : wire_(wire) { mac_.bytes[5] = id; mac_.bytes[0] = 0x02; }
    tandem::nic::NicInfo info() const override {
        tandem::nic::NicInfo i;
        i.mac = mac_;
        i.mtu = 1500;
        i.max_frame = 1514;
        i.driver = "fake-client";
        return i;
    }
    bool link_up() override { return true; }
    std::size_t transmit(std::span<const tandem::nic::Frame> frames) override;
    std::size_t receive(tandem::nic::FrameSink& sink, std::size_t budget) override {
        std::size_t n = 0;
        while (n < budget && !inbox.empty()) {
            std::vector<std::uint8_t> f = std::move(inbox.front());
            inbox.pop_front();
            sink.frame(f);
            ++n;
        }
        return n;
    }
    std::size_t tx_pending() override { return 0; }
    tandem::nic::NicCounters counters() override { return {}; }
    tandem::Status health() const override { return tandem::success(); }

    std::deque<std::vector<std::uint8_t>> inbox;
    std::vector<std::vector<std::uint8_t>> sent;
    bool connected = true;

private:
    ClientWire& wire_;
    tandem::MacAddress mac_{};
};

class ClientWire {
public:
    void attach(FakeClientNic* nic) { nics_.push_back(nic); }
    void detach(FakeClientNic* nic) { std::erase(nics_, nic); }
    void carry(FakeClientNic* from, std::span<const std::uint8_t> frame) {
        if (!from->connected) return;
        for (FakeClientNic* to : nics_) {
            if (to != from && to->connected) to->inbox.emplace_back(frame.begin(), frame.end());
        }
    }

private:
    std::vector<FakeClientNic*> nics_;
};

inline std::size_t FakeClientNic::transmit(std::span<const tandem::nic::Frame> frames) {
    for (const tandem::nic::Frame& f : frames) {
        sent.emplace_back(f.begin(), f.end());
        wire_.carry(this, f);
    }
    return frames.size();
}

// The link NIC: frames go out on one side of a SimLink; the SimLink hands arriving frames
// straight to the session's transport (as the NIC feed would).
class FakeLinkNic final : public tandem::nic::Nic {
public:
    FakeLinkNic(test::SimLink& link, int side) : link_(link), side_(side) { mac_ = test::pair_config(7, side).local_mac; }
    tandem::nic::NicInfo info() const override {
        tandem::nic::NicInfo i;
        i.mac = mac_;
        i.mtu = 1500;
        i.max_frame = 1514;
        i.driver = "fake-link";
        return i;
    }
    bool link_up() override { return true; }
    std::size_t transmit(std::span<const tandem::nic::Frame> frames) override {
        for (const tandem::nic::Frame& f : frames) (void)link_.port(side_).transmit(f);
        return frames.size();
    }
    std::size_t receive(tandem::nic::FrameSink&, std::size_t) override { return 0; }
    std::size_t tx_pending() override { return 0; }
    tandem::nic::NicCounters counters() override { return {}; }
    tandem::Status health() const override { return tandem::success(); }

private:
    test::SimLink& link_;
    int side_;
    tandem::MacAddress mac_{};
};

class FakeMachine final : public tandem::sessions::SessionMachine, public tandem::VcpuWiring {
public:
    static constexpr std::uint64_t kHostBase = 0x1'0000'0000;
    static constexpr std::uint64_t kHostSize = 16ull << 20;

    FakeMachine(const tandem::Config& config, test::SimClock& clock, test::SimLink& link, int side, ClientWire& wire,
                std::uint8_t id)
        : config_(config), clock_(clock), host_(kHostBase, kHostSize), memory_(frames_, host_), shell_(out_),
          ram_(host_), link_nic_(link, side), client_nic_(wire, id), wire_(wire) {
        REQUIRE(frames_.add_free({kHostBase, kHostBase + kHostSize}));
        wire_.attach(&client_nic_);
    }
    ~FakeMachine() { wire_.detach(&client_nic_); }

    const tandem::Config& config() const override { return config_; }
    tandem::Writer& out() override { return out_; }
    tandem::Shell& shell() override { return shell_; }
    tandem::MemorySource& memory() override { return memory_; }
    std::uint64_t now() const override { return clock_.now; }  // one tick per nanosecond
    std::uint64_t tsc_khz() const override { return 1'000'000; }
    tandem::link::Clock& clock() override { return clock_; }
    Random64 random() override { return &rig_random; }

    tandem::Status open_nics(bool, bool) override { return tandem::success(); }
    tandem::nic::Nic* link_nic() override { return &link_nic_; }
    tandem::nic::Nic* client_nic() override { return config_.has_guest_mac ? &client_nic_ : nullptr; }
    tandem::Result<tandem::link::LinkSecret> link_secret() override { return test::secret_for(0x40); }

    tandem::Result<tandem::DirtyTracking> dirty_tracking() override { return tandem::DirtyTracking::pml; }
    tandem::Status prepare_guest(const tandem::sessions::GuestPlan& plan) override {
        if (auto s = memory_.guest_sized(config_.guest_mem, ram_); !s) return s;
        pages_ = config_.guest_mem / kPage;
        ept_ = std::make_unique<ckpt::FakeEptControl>(pages_);
        if (plan.load_guest) {
            std::mt19937_64 rng(5);
            for (std::uint64_t p = 0; p < pages_; ++p) {
                for (std::size_t i = 0; i < kPage; ++i) page(p)[i] = static_cast<std::uint8_t>(rng());
            }
        }
        REQUIRE(guest_.attach_uart());
        tandem::MachineSpec spec;
        spec.network = config_.has_guest_mac;
        spec.guest_mac = config_.guest_mac;
        spec.net_mmio_base = 0xd0000000;
        tandem::virtio::NetBackend* output = plan.net_output;
        if (spec.network && output == nullptr) {
            sender_ = std::make_unique<tandem::sessions::ClientNicSender>(client_nic_);
            output = sender_.get();
        }
        if (auto s = guest_.build(spec, *this, ram_, output); !s) return s;
        if (spec.network) {
            network_ = std::make_unique<tandem::sessions::GuestNetwork>(client_nic_, *guest_.net(), config_.guest_mac);
            listeners_.push_back(network_.get());
        }
        return tandem::success();
    }
    tandem::GuestMemory& ram() override { return ram_; }
    tandem::GuestMachine& guest_machine() override { return guest_; }
    tandem::sessions::GuestNetwork* guest_network() override { return network_.get(); }
    void set_events(tandem::GuestEvents* events) override { events_ = events; }
    void set_tick_ms(std::uint32_t ms) override { tick_ms = ms; }
    tandem::Status capture_cpu(tandem::checkpoint::CpuState& out) override {
        if (on_capture) on_capture();
        out = tandem::checkpoint::CpuState{};
        return out.set(tandem::checkpoint::cpu_state_keys::guest_tsc, guest_tsc);
    }
    tandem::Status restore_cpu(const tandem::checkpoint::CpuState& state) override {
        auto tsc = state.get(tandem::checkpoint::cpu_state_keys::guest_tsc);
        if (!tsc) return tandem::Error::of("fake vCPU: no guest TSC in the state");
        guest_tsc = *tsc;
        ++cpu_restores;
        return tandem::success();
    }
    std::uint64_t guest_rip() override { return 0x1000; }
    tandem::dirty::EptDirtyControl& dirty_control() override { return *ept_; }
    tandem::dirty::PmlLog* pml_log() override { return &pml_; }
    tandem::Status use_memory(tandem::GuestMemory&) override { return tandem::Error::of("fake: no second image"); }
    void stop_guest(const char* reason) override {
        running = false;
        stop_reason = reason;
        stop_reason_given = reason;
    }
    std::uint64_t guest_exits() const override { return ticks; }
    tandem::sessions::ExitWait longest_exit() const override { return {}; }
    tandem::GuestEnd run_guest() override { return {}; }
    void report_guest_end(const tandem::GuestEnd&) override {}
    void poll_console() override {}
    void idle() override {}

    tandem::GuestClock& guest_clock() override { return clock_view_; }
    void set_interrupts(tandem::GuestInterruptSource*) override {}
    void set_mmio_bus(tandem::MmioBus*) override {}
    tandem::Status add_tick_listener(tandem::TickListener& l) override {
        listeners_.push_back(&l);
        return tandem::success();
    }
    bool guest_running() const override { return running; }

    // The guest's bytes of one page (the test's view, bypassing GuestMemory).
    std::span<std::uint8_t> page(std::uint64_t p) {
        auto hpa = ram_.host_address(p * kPage);
        REQUIRE(hpa);
        return {host_.at(*hpa, kPage), kPage};
    }
    std::vector<std::uint8_t> snapshot() const {
        std::vector<std::uint8_t> out(config_.guest_mem);
        REQUIRE(ram_.read(0, out));
        return out;
    }
    // A guest write as the processor does it: PML logs the page, a protected page faults into
    // the mode's events first.
    void guest_write(std::uint64_t p, std::size_t offset, std::uint8_t value) {
        auto on_full = [&] { events_->on_pml_full(); };
        if (!ckpt::cpu_write(*ept_, &pml_, p, on_full)) {
            REQUIRE(events_->on_ram_write_fault(p * kPage + offset));
            REQUIRE(ckpt::cpu_write(*ept_, &pml_, p, on_full));
        }
        page(p)[offset] = value;
    }
    // One millisecond tick of a running guest: the timer event, then the tick listeners.
    void tick() {
        ++ticks;
        guest_tsc += 1'000'000;
        if (events_ != nullptr) events_->on_timer();
        for (tandem::TickListener* l : listeners_) l->on_tick();
    }
    std::uint8_t uart_scratch() { return static_cast<std::uint8_t>(guest_.io().read(0x3ff, 1)); }
    void set_uart_scratch(std::uint8_t v) { guest_.io().write(0x3ff, 1, v); }

    StringWriter out_;  // first: the guest machine logs into it
    tandem::GuestMachine guest_{out_};
    std::uint64_t pages_ = 0;
    std::uint64_t guest_tsc = 0;
    std::uint64_t ticks = 0;
    unsigned cpu_restores = 0;
    std::uint32_t tick_ms = 0;
    bool running = true;
    std::string stop_reason;
    const char* stop_reason_given = "";  // the pointer, as GuestEnd carries it
    std::function<void()> on_capture;  // called at every capture, before the vCPU is read
    FakeClientNic& client() { return client_nic_; }

private:
    class ClockView final : public tandem::GuestClock {
    public:
        explicit ClockView(const FakeMachine& m) : m_(m) {}
        std::uint64_t guest_tsc() const override { return m_.guest_tsc; }

    private:
        const FakeMachine& m_;
    };

    tandem::Config config_;
    test::SimClock& clock_;
    test::VectorHostMemory host_;
    tandem::FrameAllocator frames_;
    tandem::MemorySource memory_;
    tandem::Shell shell_;
    tandem::GuestMemory ram_;
    FakeLinkNic link_nic_;
    FakeClientNic client_nic_;
    ClientWire& wire_;
    std::unique_ptr<ckpt::FakeEptControl> ept_;
    ckpt::FakePmlLog pml_;
    std::unique_ptr<tandem::sessions::ClientNicSender> sender_;
    std::unique_ptr<tandem::sessions::GuestNetwork> network_;
    tandem::GuestEvents* events_ = nullptr;
    std::vector<tandem::TickListener*> listeners_;
    ClockView clock_view_{*this};
};

}  // namespace session_test

namespace session_test {

// Two machines (link sides 0 and 1) running PairSessions; a third can join after a takeover.
struct SessionPairRig {
    static constexpr std::uint64_t kTickNs = 1'000'000;

    struct Node {
        Node(const tandem::Config& config, SessionPairRig& rig, int side, std::uint8_t id)
            : machine(config, rig.clock, rig.link, side, rig.wire, id), session(machine), link_side(side) {}
        FakeMachine machine;
        tandem::sessions::PairSession session;
        int link_side;
        bool alive = true;
        bool guest_running = false;  // the session asked to run the guest
        bool finished = false;
        std::uint64_t next_tick = 0;
    };

    explicit SessionPairRig(std::uint64_t seed) : link(clock, seed), rng(seed) {}

    static tandem::Config config(tandem::Role role, bool guest_mac = true) {
        tandem::Config c;
        c.role = role;
        c.mode = tandem::Mode::checkpoint;
        c.peer = tandem::PeerChoice::link;
        c.guest_mem = kGuestMem;
        c.epoch_ms = 20;
        c.failover_ms = 100;
        c.capture = tandem::CaptureChoice::cow;
        c.has_guest_mac = guest_mac;
        c.guest_mac = tandem::MacAddress{{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}};
        c.has_guest_ip = guest_mac;
        c.guest_ip[0] = 10, c.guest_ip[1] = 0, c.guest_ip[2] = 2, c.guest_ip[3] = 15;
        return c;
    }

    Node& add(const tandem::Config& c, int side, std::uint8_t id) {
        nodes.push_back(std::make_unique<Node>(c, *this, side, id));
        Node& n = *nodes.back();
        REQUIRE(n.session.start());
        if (c.link_over_udp) {  // through the NIC feed and its UDP/IPv4 envelope
            link.attach_receiver(side, [&n](std::span<const std::uint8_t> f) { n.session.link_feed().frame(f); });
        } else {
            link.attach(side, &n.session.transport());
        }
        return n;
    }
    void kill(Node& n) {
        // Its transport off the link first: once it is dead, link_owner() no longer finds it.
        if (link_owner(n.link_side) == &n) link.attach(n.link_side, nullptr);
        n.alive = false;
        n.machine.client().connected = false;
    }
    Node* link_owner(int side) {
        for (auto& n : nodes) {
            if (n->alive && n->link_side == side) return n.get();
        }
        return nullptr;
    }

    // One step of simulated time: link deliveries, then every machine: a running guest ticks
    // every millisecond (writes, then the timer event and the tick listeners); a waiting
    // session is polled.
    void step() {
        link.deliver_due();
        for (auto& np : nodes) {
            Node& n = *np;
            if (!n.alive || n.finished) continue;
            if (!n.guest_running) {
                tandem::sessions::Session::Next next = n.session.poll();
                if (next == tandem::sessions::Session::Next::run_guest) {
                    n.guest_running = true;
                    n.machine.running = true;  // as X86Machine::run_guest clears a stop
                }
                if (next == tandem::sessions::Session::Next::finished) n.finished = true;
                continue;
            }
            if (!n.machine.running) {  // stop_guest(): the run ends, the session is told
                n.guest_running = false;
                n.session.guest_ended({tandem::GuestEnd::Kind::stopped, 0, n.machine.stop_reason_given});
                continue;
            }
            if (clock.now < n.next_tick) continue;
            n.next_tick = clock.now + kTickNs;
            for (unsigned i = 0; i < writes_per_tick; ++i) {
                n.machine.guest_write(rng() % n.machine.pages_, rng() % kPage, static_cast<std::uint8_t>(rng()));
            }
            n.machine.set_uart_scratch(static_cast<std::uint8_t>(rng()));
            n.machine.tick();
        }
        std::uint64_t next = link.next_due();
        std::uint64_t limit = clock.now + 100'000;
        clock.now = next > clock.now && next < limit ? next : limit;
    }
    bool run_until(const std::function<bool()>& done, std::uint64_t limit_ns) {
        std::uint64_t end = clock.now + limit_ns;
        while (clock.now < end) {
            if (done()) return true;
            step();
        }
        return done();
    }
    static bool is_protected(Node& primary, Node& backup) {
        auto* p = primary.session.primary();
        auto* b = backup.session.backup();
        return p != nullptr && b != nullptr && p->phase() == tandem::engine::PrimaryReplicator::Phase::protecting &&
               b->is_protected() && p->has_ack() && p->acked_epoch() >= p->protected_from();
    }

    test::SimClock clock;
    test::SimLink link;
    ClientWire wire;
    std::mt19937_64 rng;
    unsigned writes_per_tick = 3;
    std::vector<std::unique_ptr<Node>> nodes;
};

constexpr std::uint64_t kSecond = 1'000'000'000;  // of simulated time

// Types a line on a machine's console, as tandem's shell receives it (in its view).
inline void type(SessionPairRig::Node& n, const std::string& line) {
    for (char c : line) n.machine.shell().feed(c);
}

// The last line of JSON a machine's console printed ("" if none).
inline std::string last_json(SessionPairRig::Node& n) {
    const std::string& said = n.machine.out_.text_;
    std::size_t at = said.rfind("{\"schema\"");
    return at == std::string::npos ? "" : said.substr(at, said.find('\n', at) - at);
}

}  // namespace session_test
