#include "arch-x86_64/boot/pair_session.hpp"

#include "arch-x86_64/boot/linux_guest.hpp"
#include "arch-x86_64/vmx/vmcs_guest_clock.hpp"
#include "hypervisor/devices/pc_platform.hpp"

#include "arch-x86_64/boot/console_input.hpp"
#include "arch-x86_64/boot/guest_image.hpp"
#include "arch-x86_64/boot/guest_network.hpp"
#include "arch-x86_64/boot/link_glue.hpp"
#include "arch-x86_64/cpu/intrinsics.hpp"
#include "arch-x86_64/nic/machine_nics.hpp"
#include "arch-x86_64/paging/identity_window.hpp"
#include "arch-x86_64/vmx/cpu_state_capture.hpp"
#include "arch-x86_64/vmx/virtual_machine.hpp"
#include "arch-x86_64/vmx/vmx_root.hpp"
#include "guest-boot/test_guest_abi.hpp"
#include "hypervisor/console/console.hpp"
#include "hypervisor/console/shell.hpp"
#include "hypervisor/devices/uart16550_model.hpp"
#include "hypervisor/net/gratuitous_arp.hpp"
#include "replication/engine/backup_replicator.hpp"
#include "replication/engine/primary_replicator.hpp"
#include "replication/link/client_probe.hpp"

namespace tandem::x86 {
namespace {

namespace abi = tandem::guest_abi;
constexpr std::uint64_t kPage = checkpoint::kPageSize;
constexpr std::size_t kStreamQueueBytes = 512 * 1024;
constexpr std::size_t kOutputFrames = 512;
constexpr int kGratuitousArps = 3;

Result<std::span<std::uint8_t>> zeroed(FrameAllocator& frames, std::uint64_t bytes) {
    std::uint64_t rounded = align_up(bytes, kPageSize);
    auto at = frames.allocate(rounded);
    if (!at) return at.error();
    __builtin_memset(reinterpret_cast<void*>(*at), 0, rounded);
    return std::span<std::uint8_t>{reinterpret_cast<std::uint8_t*>(*at), static_cast<std::size_t>(rounded)};
}

template <class T>
Result<std::span<T>> zeroed_array(FrameAllocator& frames, std::uint64_t count) {
    auto bytes = zeroed(frames, count * sizeof(T));
    if (!bytes) return bytes.error();
    return std::span<T>{reinterpret_cast<T*>(bytes->data()), static_cast<std::size_t>(count)};
}

// Forwards the transport's messages to whichever side this machine plays now.
class MessageSwitch final : public link::MessageSink {
public:
    void on_message(const link::Message& m) override {
        if (target != nullptr) target->on_message(m);
    }
    link::MessageSink* target = nullptr;
};

class LinkReceiver final : public nic::FrameSink {
public:
    explicit LinkReceiver(link::Transport& t) : t_(t) {}
    void frame(nic::Frame f) override { t_.on_frame(f); }

private:
    link::Transport& t_;
};

// Says once per kind, with a count, what was wrong with frames refused on the client network.
class RefusalLog {
public:
    explicit RefusalLog(Writer& out) : out_(out) {}
    void note(const char* problem) {
        ++count_;
        if (problem == last_ && count_ > 1) return;
        last_ = problem;
        println(out_, "pair: refused a frame on the client network: {} ({} refused so far)", problem, count_);
    }

private:
    Writer& out_;
    const char* last_ = nullptr;
    std::uint64_t count_ = 0;
};

// The primary's hypervisor answers split-brain probes on the client NIC at once, whatever the
// guest and the output-commit buffer are doing.
class ProbeResponder final : public ControlFrameHandler {
public:
    ProbeResponder(nic::Nic& nic, const link::LinkSecret& secret, Writer& out)
        : nic_(nic), secret_(secret), out_(out), refusals_(out) {}
    bool handle(nic::Frame f) override {
        link::ProbeParse p = link::parse_probe(f, secret_);
        if (!p.is_probe) return false;
        if (!p.valid) {
            refusals_.note(p.problem);
            return true;
        }
        if (p.frame.kind != link::ProbeKind::request) return true;
        std::uint8_t reply[link::kProbeFrameSize];
        link::build_probe(reply, p.frame.source, nic_.info().mac, link::ProbeKind::reply, p.frame.challenge, secret_);
        nic::Frame out = reply;
        nic_.transmit({&out, 1});
        if (answered_++ % 64 == 0) {
            println(out_, "pair: answered a backup's probe on the client network ({} so far): it cannot hear this "
                          "primary on the link",
                    answered_);
        }
        return true;
    }

private:
    nic::Nic& nic_;
    const link::LinkSecret& secret_;
    Writer& out_;
    RefusalLog refusals_;
    std::uint64_t answered_ = 0;
};

// The backup's end of the probe: requests go to broadcast on the client NIC; replies are checked
// and handed to the replicator; everything else on the client network is the primary guest's
// traffic and is dropped here.
class ClientProber final : public engine::ProbeSender, public nic::FrameSink {
public:
    ClientProber(nic::Nic& nic, const link::LinkSecret& secret, Writer& out) : nic_(nic), secret_(secret), refusals_(out) {}
    void attach(engine::BackupReplicator& r) { replicator_ = &r; }
    void send_probe(const link::Challenge& challenge) override {
        std::uint8_t frame[link::kProbeFrameSize];
        MacAddress broadcast{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
        link::build_probe(frame, broadcast, nic_.info().mac, link::ProbeKind::request, challenge, secret_);
        nic::Frame f = frame;
        nic_.transmit({&f, 1});
    }
    void frame(nic::Frame f) override {
        link::ProbeParse p = link::parse_probe(f, secret_);
        if (!p.is_probe) return;
        if (!p.valid) return refusals_.note(p.problem);
        if (p.frame.kind == link::ProbeKind::reply && replicator_ != nullptr) replicator_->on_probe_reply(p.frame);
    }

private:
    nic::Nic& nic_;
    const link::LinkSecret& secret_;
    RefusalLog refusals_;
    engine::BackupReplicator* replicator_ = nullptr;
};

// The guest's frames when it has no network card (no guest_mac=): there are none.
class DropBackend final : public virtio::NetBackend {
public:
    bool transmit(std::span<const std::uint8_t>) override { return true; }
};

// A probe sender for a backup without a client network: nothing to ask, so a silent primary is
// taken as dead (said at start-up).
class NoProber final : public engine::ProbeSender {
public:
    void send_probe(const link::Challenge&) override {}
};

// Everything the running guest's machine needs at each timer tick and exit, as the primary.
class PrimaryMachine final : public VcpuHooks, public engine::StateSource, public engine::TickClock {
public:
    PrimaryMachine(VirtualMachine& vm, nic::Nic& link_nic, LinkReceiver& receiver, dirty::DirtyTracker& tracker)
        : vm_(vm), link_nic_(link_nic), receiver_(receiver), tracker_(tracker) {}
    // The engine and the replicator are built over this machine (its state and clock) first.
    void attach(engine::CheckpointEngine& engine, engine::PrimaryReplicator& replicator) {
        engine_ = &engine;
        replicator_ = &replicator;
    }

    // The UART, virtio-net and the PC platform's five models.
    static constexpr std::size_t kMaxDevices = 8;
    Status add_device(StatefulDevice& d) {
        if (count_ == kMaxDevices) return Error::of("pair: too many devices to checkpoint (a tandem bug)", d.state_id());
        devices_[count_++] = &d;
        return success();
    }

    void on_timer(Vcpu& vcpu) override {
        link_nic_.receive(receiver_, 64);
        if (auto s = replicator_->tick(); !s) {
            print(console(), "pair: ");
            println(console(), "{}", s.error());
            vcpu.stop("the pair failed");
        }
    }
    bool on_ram_write_fault(Vcpu&, std::uint64_t gpa) override {
        if (!replicator_->capturing()) {
            vm_.dirty_control().set_write_protect(gpa / kPage, false);  // left from an abandoned epoch
            return true;
        }
        return engine_->on_write_fault(gpa);
    }
    void on_pml_full(Vcpu&) override {
        if (replicator_->capturing()) {
            tracker_.on_pml_full();
        } else if (dirty::PmlLog* log = vm_.pml_log()) {
            log->reset_index();
        }
    }

    Status capture_cpu(checkpoint::CpuState& out) override {
        return capture_cpu_state(vm_.vmcs(), vm_.vcpu().regs(), vm_.platform(), out);
    }
    std::size_t device_count() const override { return count_; }
    StatefulDevice& device(std::size_t index) override { return *devices_[index]; }
    std::uint64_t now() const override { return rdtsc(); }

private:
    VirtualMachine& vm_;
    nic::Nic& link_nic_;
    LinkReceiver& receiver_;
    dirty::DirtyTracker& tracker_;
    engine::CheckpointEngine* engine_ = nullptr;
    engine::PrimaryReplicator* replicator_ = nullptr;
    StatefulDevice* devices_[kMaxDevices]{};
    std::size_t count_ = 0;
};

struct ShellContext {
    VirtualMachine* vm;
    engine::PrimaryReplicator* primary;
    engine::BackupReplicator* backup;
    link::Transport* transport;
    bool promoted;
};

void command_status(void* context, std::string_view, Writer& out) {
    auto* c = static_cast<ShellContext*>(context);
    if (c->promoted || c->backup == nullptr) {
        println(out, "status: guest running here, {} exits so far{}", c->vm->vcpu().stats().exits,
                c->promoted ? " (this machine took over as primary)" : "");
        c->primary->status(out);
    } else {
        c->backup->status(out);
    }
}

void command_link(void* context, std::string_view, Writer& out) { static_cast<ShellContext*>(context)->transport->report(out); }

[[noreturn]] void serve_forever(nic::Nic& link_nic, LinkReceiver& receiver, link::Transport& transport, ConsoleInput& input) {
    for (;;) {
        link_nic.receive(receiver, 64);
        transport.poll();
        input.poll();
        pause();
    }
}

}  // namespace

void run_pair(const PairContext& c) {
    Writer& out = console();
    const Config& config = c.config;
    bool backup_role = config.role == Role::backup;

    auto secret_result = link_secret(config, c.boot);
    if (!secret_result) {
        println(out, "link: {}", secret_result.error());
        return report_problem("the replication link", Error::of("no usable link key"));
    }
    static link::LinkSecret secret;
    secret = *secret_result;
    auto nics = setup_nics(config, c.frames, c.tsc_khz, true, config.has_guest_mac);
    if (!nics) return report_problem("the NICs of the pair", nics.error());
    nic::Nic& link_nic = *nics->link;

    if (auto s = enter_vmx_root(c.msrs, c.caps, c.frames); !s) return report_problem("VMX operation", s.error());
    auto method = dirty_method(config, c.caps);
    if (!method) return report_problem("dirty tracking", method.error());

    // Three guest-sized areas on either side: the guest's RAM (on the backup: the committed
    // image, which becomes the RAM on takeover), page slots (the backup's staging, later the
    // engine's copy-on-write slots) and the reference of what the peer holds.
    static GuestMemory ram(identity_window()), slots(identity_window()), reference(identity_window());
    std::uint64_t size = config.guest_mem;
    std::uint64_t pages = size / kPage;
    std::size_t words = dirty::DirtyBitmap::words_for(pages);
    auto a = allocate_guest_memory(c.frames, size, ram);
    auto b = a ? allocate_guest_memory(c.frames, size, slots) : a;
    auto r = b ? allocate_guest_memory(c.frames, size, reference) : b;
    auto slot_of_page = zeroed_array<std::uint32_t>(c.frames, pages);
    auto staged_gpa = zeroed_array<std::uint64_t>(c.frames, pages);
    auto bits = zeroed_array<std::uint64_t>(c.frames, 3 * words);
    auto queue_storage = zeroed(c.frames, kStreamQueueBytes);
    auto output_storage = zeroed(c.frames, kOutputFrames * engine::OutputCommitBuffer::kSlotSize);
    if (!a || !b || !r || !slot_of_page || !staged_gpa || !bits || !queue_storage || !output_storage) {
        return report_problem("the pair's memory",
                              Error::of("not enough memory: a protected pair needs about 3 times guest_mem; bytes of guest "
                                        "RAM",
                                        size));
    }

    GuestEntry entry{};
    entry.mode = guest_boot::EntryMode::real16;  // the backup's vCPU is replaced at takeover
    // An unmodified Linux kernel gets the PC platform on both machines (the backup learns it from
    // the same modules, linux_guest.hpp), so the checkpoints' device states fit.
    bool linux_guest = configured_for_linux(config, c.boot);
    if (!backup_role) {
        auto loaded = linux_guest ? load_linux_guest(config, c.boot, ram, config.has_guest_mac ? abi::kVirtioNetMmio : 0,
                                                     static_cast<std::uint32_t>(virtio::VirtioMmioNet::kSize))
                                  : load_test_guest(config, c.boot, ram);
        if (!loaded) return;
        entry = *loaded;
    } else if (linux_guest) {
        println(out, "pair: the guest is a Linux kernel ('{}'): this backup builds the same PC platform",
                config.guest_kernel);
    }

    static PortIoBus io(out);
    static Uart16550Model uart(out);
    if (auto s = io.attach(Uart16550Model::kBase, Uart16550Model::kPorts, uart); !s) return report_problem("its devices", s.error());
    static VirtualMachine vm(c.frames);
    VmSetup setup{c.msrs, c.caps, c.frames, ram, entry, c.tsc_khz};
    setup.small_pages = true;
    setup.pml = *method == DirtyTracking::pml;
    setup.local_apic = linux_guest;
    if (auto s = vm.create(setup, io, out); !s) return report_problem("VM setup", s.error());
    static MmioBus mmio;
    PcPlatform* pc = nullptr;
    if (linux_guest) {
        static VmcsGuestClock guest_clock(vm.vmcs(), vm.platform());
        static PcPlatform platform(guest_clock, out,
                                   PcPlatformConfig{c.tsc_khz * 1000, backup_role ? 0 : guest_rtc_start(out),
                                                    kLinuxPowerPorts});  // a backup's RTC comes with the checkpoints
        if (auto s = platform.attach(io, mmio); !s) return report_problem("its devices", s.error());
        vm.vcpu().set_interrupts(&platform);
        vm.vcpu().set_mmio_bus(&mmio);
        uart.set_interrupt_line(&platform.irq_lines(), Uart16550Model::kIrqPin);
        static GuestPowerWatch watch(vm.vcpu(), platform.power());
        (void)vm.add_tick_listener(watch);
        pc = &platform;
    }

    // The engine (used by the primary, and by the backup once it took over).
    static dirty::DirtyBitmap current(bits->subspan(0, words), pages), sending(bits->subspan(words, words), pages);
    static dirty::DirtyTracker tracker(*method, vm.dirty_control(), vm.pml_log(), current);
    static engine::StreamQueue queue(*queue_storage);
    static checkpoint::EpochEncoder encoder(queue);

    // The guest's network, its output through the commit buffer.
    static DropBackend no_network;
    virtio::NetBackend* backend = &no_network;
    if (config.has_guest_mac) {
        static ClientNicSender client_sender(*nics->client);
        backend = &client_sender;
    }
    static engine::OutputCommitBuffer output(*output_storage, *backend);
    virtio::VirtioMmioNet* net = nullptr;
    GuestNetwork* network = nullptr;
    if (config.has_guest_mac) {
        static virtio::VirtioMmioNet device(ram, output, config.guest_mac.bytes, out);
        static GuestNetwork guest_network(*nics->client, device, config.guest_mac);
        if (pc != nullptr) device.set_interrupt_line(&pc->irq_lines(), kLinuxVirtioNetGsi);
        net = &device;
        network = &guest_network;
        if (auto s = mmio.attach(abi::kVirtioNetMmio, virtio::VirtioMmioNet::kSize, device); !s) {
            return report_problem("its devices", s.error());
        }
        vm.vcpu().set_mmio_bus(&mmio);
        (void)vm.add_tick_listener(guest_network);
        println(out, "vm: virtio-net at {} with MAC {} on the client NIC, output through the commit buffer",
                hex(abi::kVirtioNetMmio), ColonHex{config.guest_mac.bytes, 6});
    }

    static MessageSwitch messages;
    static NicChannel channel(link_nic);
    static TscClock clock(c.tsc_khz);
    static link::Transport transport(channel, clock, messages);
    static LinkReceiver receiver(transport);

    link::TransportConfig tc;
    nic::NicInfo info = link_nic.info();
    salt_session_ids(info.mac);
    tc.local_mac = info.mac;
    tc.has_peer_mac = config.has_peer_mac;
    tc.peer_mac = config.peer_mac;
    tc.mtu = info.mtu;
    tc.guest_memory = size;
    tc.timing.silence_timeout_ns = static_cast<std::uint64_t>(config.failover_ms) * 1'000'000;
    if (config.link_version != 0) tc.protocol_version = static_cast<std::uint8_t>(config.link_version);

    static engine::PrimaryReplicator* primary_ptr = nullptr;
    engine::CaptureMode mode = config.capture == CaptureChoice::cow ? engine::CaptureMode::cow : engine::CaptureMode::copy;

    // The primary's machinery; built now on the primary, at takeover on the backup.
    auto become_primary = [&](bool took_over) -> bool {
        static PrimaryMachine machine(vm, link_nic, receiver, tracker);
        static engine::CheckpointEngine engine(engine::EngineMemory{ram, reference, slots, *slot_of_page, sending}, tracker,
                                               vm.dirty_control(), machine, encoder, machine, mode, true);
        static engine::PrimaryReplicator replicator(engine, queue, output, transport, machine, out);
        machine.attach(engine, replicator);
        Status added = machine.add_device(uart);
        if (added && net != nullptr) added = machine.add_device(*net);
        if (pc != nullptr) {
            for (StatefulDevice* d : pc->devices()) {
                if (added) added = machine.add_device(*d);
            }
        }
        if (!added) {
            report_problem("checkpointing", added.error());
            return false;
        }
        primary_ptr = &replicator;
        ram.set_write_observer(&engine);
        vm.vcpu().set_hooks(&machine);
        vm.vcpu().set_timer_reload(c.tsc_khz);  // 1 ms ticks: the link and the network are polled on them
        messages.target = &replicator;
        engine::PrimaryOptions po;
        po.epoch_ticks = c.tsc_khz * config.epoch_ms;
        po.slice_ticks = c.tsc_khz * 30 / 100;  // at most 30 % of each 1 ms slice encoding
        po.progress_ticks = c.tsc_khz * 2000;
        po.epoch_report = config.epoch_report;
        if (auto s = replicator.listen(tc, secret, session_id, po); !s) {
            report_problem("the replication link", s.error());
            return false;
        }
        println(out, "pair: {} over {} ({}), {}; epochs of {} ms, dirty tracking by {}, failover after {} ms of silence",
                took_over ? "now the primary" : "primary", info.driver, ColonHex{info.mac.bytes, 6},
                secret.insecure ? "INSECURE link (insecure_link=1)" : "link authenticated and encrypted", config.epoch_ms,
                dirty_tracking_name(*method), config.failover_ms);
        println(out, "pair: the guest runs UNPROTECTED until a backup has joined and holds a copy");
        return true;
    };

    static Shell shell(out);
    static ConsoleInput input(shell);
    static ShellContext shell_context{&vm, nullptr, nullptr, &transport, false};
    (void)shell.add({"status", "the pair's state: protection, epochs, the guest", command_status, &shell_context});
    (void)shell.add({"link", "the replication link's state and counters", command_link, &shell_context});

    if (backup_role) {
        static checkpoint::BackupImage image(ram, slots, *staged_gpa, bits->subspan(2 * words, words));
        static checkpoint::StreamDecoder decoder(image);
        static NoProber no_prober;
        static ClientProber* prober = nullptr;
        engine::ProbeSender* probe_sender = &no_prober;
        if (config.has_guest_mac) {
            static ClientProber client_prober(*nics->client, secret, out);
            prober = &client_prober;
            probe_sender = prober;
        }
        static engine::BackupReplicator backup(image, decoder, transport, clock, *probe_sender, out);
        if (prober != nullptr) prober->attach(backup);
        messages.target = &backup;
        shell_context.backup = &backup;
        engine::BackupOptions bo;
        if (auto s = backup.listen(tc, secret, session_id, bo); !s) return report_problem("the replication link", s.error());
        println(out, "pair: backup over {} ({}), {}; takes over after {} ms of silence{}", info.driver,
                ColonHex{info.mac.bytes, 6}, secret.insecure ? "INSECURE link (insecure_link=1)" : "link authenticated and encrypted",
                config.failover_ms,
                prober != nullptr ? " and no answer on the client network"
                                  : " (no client network: no split-brain probe possible; guest_mac= gives one)");
        println(out, "tandem: console ready: type 'help'");
        for (;;) {
            link_nic.receive(receiver, 64);
            if (prober != nullptr) nics->client->receive(*prober, 64);
            input.poll();
            if (backup.poll()) break;
            pause();
        }
        // Takeover: the committed epoch becomes the running guest.
        Vcpu& vcpu = vm.vcpu();
        if (auto s = restore_cpu_state(image.committed_cpu(), vm.vmcs(), vcpu.regs(), vm.platform(), vcpu.config().cr); !s) {
            return report_problem("the takeover (vCPU state)", s.error());
        }
        StatefulDevice* devices[8] = {&uart, net};
        std::size_t device_count = 2;
        if (pc != nullptr) {
            for (StatefulDevice* d : pc->devices()) devices[device_count++] = d;
        }
        for (const checkpoint::DeviceStateBlob& d : image.committed_devices()) {
            bool found = false;
            for (StatefulDevice* dev : std::span<StatefulDevice* const>(devices, device_count)) {
                if (dev == nullptr || dev->state_id() != d.id) continue;
                found = true;
                if (auto s = dev->restore_state(d.version, {d.bytes, d.size}); !s) {
                    return report_problem(dev->state_name(), s.error());
                }
            }
            if (!found) println(out, "pair: the checkpoint holds state of device {} that this machine does not have", d.id);
        }
        if (config.has_guest_mac && config.has_guest_ip) {
            std::uint8_t garp[net::kGratuitousArpSize];
            net::build_gratuitous_arp(garp, config.guest_mac, config.guest_ip);
            for (int i = 0; i < kGratuitousArps; ++i) {
                nic::Frame f = garp;
                nics->client->transmit({&f, 1});
            }
            println(out, "pair: announced the guest at {}.{}.{}.{} ({}) with {} gratuitous ARPs", config.guest_ip[0],
                    config.guest_ip[1], config.guest_ip[2], config.guest_ip[3], ColonHex{config.guest_mac.bytes, 6},
                    kGratuitousArps);
        } else if (config.has_guest_mac) {
            println(out, "pair: no guest_ip=: the guest's address is not announced (clients find it by ARP)");
        }
        if (!become_primary(true)) return;
        shell_context.promoted = true;
        println(out, "pair: the guest resumes here from epoch {} at rip {}", image.committed_epoch(),
                hex(vm.vmcs().read(vmcs::guest_rip)));
    } else {
        if (!become_primary(false)) return;
        println(out, "tandem: console ready: type 'help'");
    }
    shell_context.primary = primary_ptr;
    if (network != nullptr) {
        static ProbeResponder responder(*nics->client, secret, out);
        network->set_control_handler(&responder);
    }
    (void)vm.add_tick_listener(input);
    GuestRunResult run = vm.run();
    uart.flush();
    if (run.end.kind == GuestEnd::Kind::exited) {
        println(out, "tandem: guest exited with code {}", run.end.exit_code);
    } else {
        println(out, "tandem: guest stopped: {}", run.end.reason);
    }
    println(out, "pair: the guest ended; the link stays up so the backup does not take over a finished guest");
    serve_forever(link_nic, receiver, transport, input);
}

}  // namespace tandem::x86
