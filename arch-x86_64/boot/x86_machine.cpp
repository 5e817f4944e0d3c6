#include "arch-x86_64/boot/x86_machine.hpp"

#include "arch-x86_64/boot/build_id.hpp"
#include "arch-x86_64/boot/guest_image.hpp"
#include "arch-x86_64/boot/linux_guest.hpp"
#include "arch-x86_64/cpu/intrinsics.hpp"
#include "arch-x86_64/paging/identity_window.hpp"
#include "arch-x86_64/vmx/cpu_state_capture.hpp"
#include "arch-x86_64/vmx/vmx_root.hpp"
#include "guest-boot/test_guest_abi.hpp"
#include "hypervisor/console/console.hpp"
#include "hypervisor/console/json_writer.hpp"

namespace tandem::x86 {
namespace {
void command_version(void*, std::string_view args, Writer& out) {
    auto form = Shell::form_argument("version", args, out);
    if (!form) return;
    auto id = build_id();
    ColonHex build{id.data(), id.size() > 8 ? 8 : id.size()};
    if (*form == Shell::Form::text) {
        println(out, "version: tandem {} (build {})", TANDEM_VERSION, build);
        return;
    }
    char text[32];
    BufferWriter build_text(text, sizeof text);
    print(build_text, "{}", build);
    JsonWriter json(out);
    json.begin_object();
    json.field("schema", kConsoleSchema);
    json.field("kind", "version");
    json.field("tandem", TANDEM_VERSION);
    json.field("build", build_text.view());
    json.end_object();
    json.end_line();
}

constexpr std::size_t kLogDefault = 20, kLogMax = 1000;

void command_log(void*, std::string_view args, Writer& out) {
    auto lines = args.empty() ? std::optional<std::uint64_t>{kLogDefault} : Shell::number_argument(args, 1, kLogMax);
    if (!lines) {
        println(out, "log: N is a number of lines from 1 to {} (not '{}')", kLogMax, args);
        return;
    }
    message_log().print_last(out, *lines);
}
}  // namespace

X86Machine::X86Machine(const MachineFacts& facts)
    : facts_(facts), out_(console()), memory_(facts.frames, identity_window()), shell_(buffered_console()),
      mux_(shell_, buffered_console(), &buffered_console()), input_(mux_), clock_(facts.tsc_khz), ram_(identity_window()), vm_(facts.frames), guest_(console(), guest_console()) {
    // The shell's echo and answers go to the console directly, not into the log of messages.
    (void)shell_.add({"version", "tandem's version and build", command_version, nullptr, "[--json]"});
    (void)shell_.add({"log", "tandem's last N messages (default 20)", command_log, nullptr, "[N]"});
}

std::uint64_t X86Machine::now() const { return rdtsc(); }

void X86Machine::idle() {
    // A session waiting (a backup following its primary, a machine between guest runs) keeps the
    // console buffered too: a message written synchronously holds the loop ~87 us per character
    // (a takeover's five lines held the guest's resumption 37 ms; a backup's progress line, its
    // link, 13 ms). The ring drains here, at every pass, at the serial line's pace; with the
    // time, so that messages held for the end of a line the stopped guest left open are released
    // after kHoldMs, as at the ticks, not held for good. A loop that passes here seldom (a
    // backup receiving a copy: ~60 ms a pass) would fall seconds behind at a FIFO's 16 bytes a
    // pass: beyond kIdleBacklog bytes, the rest is sent waiting, as before.
    BufferedConsole& console_out = buffered_console();
    console_out.set_buffered(true);
    console_out.drain(clock().now_ns() / 1'000'000);
    console_out.send_down_to(kIdleBacklog);
    pause();
}

void X86Machine::problem(const char* what, const Error& e) { sessions::report_problem(out_, what, e); }

Status X86Machine::open_nics(bool link, bool client) {
    if (nics_open_) {
        if ((link && nics_.link == nullptr) || (client && nics_.client == nullptr)) {
            return Error::of("nic: a NIC was asked for after the NICs were set up (a tandem bug)");
        }
        return success();
    }
    auto nics = setup_nics(facts_.config, facts_.frames, facts_.tsc_khz, link, client);
    if (!nics) return nics.error();
    nics_ = *nics;
    nics_open_ = true;
    // Every session id this machine makes mixes in its link MAC (link_glue.hpp says why).
    if (nics_.link != nullptr) salt_session_ids(nics_.link->info().mac);
    return success();
}

Result<GuestEntry> X86Machine::load_guest(bool linux_guest) {
    const Config& c = facts_.config;
    if (linux_guest) {
        return load_linux_guest(c, facts_.boot, ram_, c.has_guest_mac ? guest_abi::kVirtioNetMmio : 0,
                                static_cast<std::uint32_t>(virtio::VirtioMmioNet::kSize));
    }
    return load_test_guest(c, facts_.boot, ram_);
}

Status X86Machine::create_vm(const sessions::GuestPlan& plan, const GuestEntry& entry, bool linux_guest) {
    bool pml = false;
    if (plan.checkpointing) {
        auto method = dirty_tracking();
        if (!method) return method.error();
        pml = *method == DirtyTracking::pml;
    }
    VmSetup setup{facts_.msrs, facts_.caps, facts_.frames, ram_, entry, facts_.tsc_khz};
    setup.small_pages = plan.checkpointing;
    setup.pml = pml;
    setup.local_apic = linux_guest;
    if (auto s = vm_.create(setup, guest_.io(), out_); !s) return s;
    vm_.vcpu().set_guest_console(buffered_console().guest_lines());
    vm_.set_after_exit(&output_);
    vm_created_ = true;
    return success();
}

// The guest machine around the vCPU (hypervisor/vm/guest_machine.hpp), its network card bound
// to the client NIC, and the console's input read at every tick.
Status X86Machine::build_devices(const sessions::GuestPlan& plan, bool linux_guest) {
    const Config& c = facts_.config;
    guest_clock_.emplace(vm_.vmcs(), vm_.platform());
    MachineSpec spec;
    spec.pc_platform = linux_guest;
    spec.tsc_hz = facts_.tsc_khz * 1000;
    // A backup's RTC comes with the checkpoints: only the primary's reading reaches the guest.
    spec.rtc_unix_seconds = linux_guest && plan.load_guest ? guest_rtc_start(out_) : 0;
    spec.power = kLinuxPowerPorts;
    spec.network = c.has_guest_mac;
    spec.guest_mac = c.guest_mac;
    spec.net_mmio_base = guest_abi::kVirtioNetMmio;
    spec.net_gsi = kLinuxVirtioNetGsi;  // the Linux guest's ACPI tables give the card this input
    spec.net_note = plan.net_note;
    virtio::NetBackend* output = plan.net_output;
    if (spec.network) {
        if (auto s = open_nics(false, true); !s) return s;
        if (output == nullptr) output = &client_sender_.emplace(*nics_.client);
    }
    if (auto s = guest_.build(spec, *this, ram_, output); !s) return s;
    if (linux_guest) set_tick_ms(1);
    if (spec.network) {
        network_.emplace(*nics_.client, *guest_.net(), c.guest_mac);
        if (auto s = vm_.add_tick_listener(*network_); !s) return s;
        set_tick_ms(1);  // the network is polled on the ticks
    }
    return vm_.add_tick_listener(input_);
}

Status X86Machine::prepare_guest(const sessions::GuestPlan& plan) {
    const Config& c = facts_.config;
    if (auto s = enter_vmx_root(facts_.msrs, facts_.caps, facts_.frames); !s) {
        problem("VMX operation", s.error());
        return s;
    }
    if (auto s = memory_.guest_sized(c.guest_mem, ram_); !s) {
        problem("guest memory", s.error());
        return s;
    }
    bool linux_guest = configured_for_linux(c, facts_.boot);
    GuestEntry entry{};
    entry.mode = guest_boot::EntryMode::real16;  // a backup's vCPU is replaced at takeover
    if (plan.load_guest) {
        auto loaded = load_guest(linux_guest);  // reports its own problems
        if (!loaded) return loaded.error();
        entry = *loaded;
        hash_before_ = image_hash();
        println(out_, "tandem: image hash before the guest: {}", hex(hash_before_, 16));
    } else if (linux_guest) {
        println(out_, "pair: the guest is a Linux kernel ('{}'): this backup builds the same PC platform",
                c.guest_kernel);
    }
    if (auto s = guest_.attach_uart(); !s) {
        problem("its devices", s.error());
        return s;
    }
    if (auto s = create_vm(plan, entry, linux_guest); !s) {
        problem("VM setup", s.error());
        return s;
    }
    if (auto s = build_devices(plan, linux_guest); !s) {
        problem("its devices", s.error());
        return s;
    }
    return success();
}

Status X86Machine::capture_cpu(checkpoint::CpuState& out) {
    return capture_cpu_state(vm_.vmcs(), vm_.vcpu().regs(), vm_.platform(), out);
}

Status X86Machine::restore_cpu(const checkpoint::CpuState& state) {
    Vcpu& vcpu = vm_.vcpu();
    return restore_cpu_state(state, vm_.vmcs(), vcpu.regs(), vm_.platform(), vcpu.config().cr);
}

Status X86Machine::use_memory(GuestMemory& memory) {
    if (auto s = vm_.use_memory(memory); !s) return s;
    guest_.use_memory(memory);
    return success();
}

const VcpuStats& X86Machine::vcpu_stats() const { return vm_.vcpu().stats(); }

bool X86Machine::guest_running() const { return vm_created_ && vm_.vcpu().running(); }

GuestEnd X86Machine::run_guest() {
    // While the guest runs, console output only fills the buffer and is drained without waiting
    // after every exit: no exit waits for the serial line. Afterwards what is left drains in the
    // idle loop; output is synchronous again once it has (buffered_console.hpp).
    BufferedConsole& console_out = buffered_console();
    console_out.set_buffered(true);
    mux_.attach_guest(&guest_.uart());  // typed input reaches the guest only while it runs here
    vm_.vcpu().clear_stop();            // the mode chose to run the guest (again)
    last_run_ = vm_.run();
    mux_.attach_guest(nullptr);
    console_out.set_buffered(false);
    return last_run_.end;
}

sessions::ExitWait X86Machine::longest_exit() const {
    const ExitLatency& latency = vm_.exit_latency();
    std::uint64_t khz = facts_.tsc_khz == 0 ? 1 : facts_.tsc_khz;
    const char* reason = latency.measured() != 0 ? exit_reason_name(latency.longest_reason()) : "none";
    return {latency.longest_tsc() * 1000 / khz, reason};
}

// The longest wait of the guest on tandem, and the guest output the console could not keep.
void X86Machine::report_exit_figures(const VcpuStats& st) {
    const ExitLatency& latency = vm_.exit_latency();
    sessions::ExitWait longest = longest_exit();
    println(out_, "vm: longest exit-to-resume {} us ({} TSC cycles) at exit reason {} ({}); {} of {} exits measured",
            longest.microseconds, latency.longest_tsc(), static_cast<unsigned>(latency.longest_reason()),
            longest.reason, latency.measured(), st.exits);
    const BufferedConsole& console_out = buffered_console();
    if (console_out.dropped_bytes() != 0) {
        println(out_, "console: {} bytes ({} lines) of guest output dropped in all: the guest wrote faster than the "
                      "serial line sends", console_out.dropped_bytes(), console_out.dropped_lines());
    }
}

void X86Machine::report_guest_end(const GuestEnd& end) {
    const VcpuStats& st = last_run_.stats;
    guest_.report(out_, st.injected_interrupts, st.halts);
    if (end.kind == GuestEnd::Kind::exited) {
        println(out_, "tandem: guest exited with code {}", end.exit_code);
    } else {
        println(out_, "tandem: guest stopped: {}", end.reason);
    }
    auto exits = [&](ExitReason r) { return st.exits_by_reason[static_cast<int>(r)]; };
    println(out_, "vm: {} exits (cpuid {}, I/O {}, msr {}, vmcall {}, cr {}, timer {}, external interrupts {}), "
                  "{} exceptions injected, {} accesses to absent ports",
            st.exits, exits(ExitReason::cpuid), exits(ExitReason::io_instruction),
            exits(ExitReason::rdmsr) + exits(ExitReason::wrmsr), exits(ExitReason::vmcall), exits(ExitReason::cr_access),
            exits(ExitReason::preemption_timer), exits(ExitReason::external_interrupt), st.injected_exceptions,
            guest_.io().unclaimed_accesses());
    report_exit_figures(st);
    std::uint64_t hash_after = image_hash();
    println(out_, "tandem: image hash after the guest: {} ({})", hex(hash_after, 16),
            hash_after == hash_before_ ? "unchanged" : "CHANGED: the hypervisor's memory was modified");
}

}  // namespace tandem::x86
