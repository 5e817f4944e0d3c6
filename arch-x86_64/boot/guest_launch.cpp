#include "arch-x86_64/boot/guest_launch.hpp"

#include "arch-x86_64/boot/checkpoint_loopback.hpp"
#include "arch-x86_64/boot/console_input.hpp"
#include "arch-x86_64/boot/guest_image.hpp"
#include "arch-x86_64/boot/guest_network.hpp"
#include "arch-x86_64/boot/linux_guest.hpp"
#include "arch-x86_64/nic/machine_nics.hpp"
#include "arch-x86_64/paging/host_paging.hpp"
#include "arch-x86_64/paging/identity_window.hpp"
#include "arch-x86_64/vmx/virtual_machine.hpp"
#include "arch-x86_64/vmx/vmcs_guest_clock.hpp"
#include "arch-x86_64/vmx/vmx_root.hpp"
#include "guest-boot/elf_loader.hpp"
#include "guest-boot/test_guest_abi.hpp"
#include "guest-boot/test_guest_boot.hpp"
#include "arch-x86_64/serial/console_uart.hpp"
#include "hypervisor/console/console.hpp"
#include "hypervisor/console/shell.hpp"
#include "hypervisor/devices/pc_platform.hpp"
#include "hypervisor/devices/uart16550_model.hpp"
#include "hypervisor/util/fnv.hpp"

namespace tandem::x86 {
namespace {

namespace abi = tandem::guest_abi;
using guest_boot::EntryMode;

struct ShellContext {
    VirtualMachine* vm;
    LoopbackSession* session;
    bool checkpointing;
};

void command_status(void* context, std::string_view, Writer& out) {
    auto* c = static_cast<ShellContext*>(context);
    const VcpuStats& st = c->vm->vcpu().stats();
    println(out, "status: guest running, {} exits so far", st.exits);
    if (c->checkpointing) c->session->status(out);
}

void command_failover(void* context, std::string_view, Writer& out) {
    auto* c = static_cast<ShellContext*>(context);
    if (!c->checkpointing || !c->session->active()) {
        println(out, "failover: nothing to fail over to (mode=checkpoint peer=local keeps a backup)");
        return;
    }
    println(out, "failover: the primary will stop at the next timer tick");
    c->session->request_failover();
}

}  // namespace

void launch_guest(const LaunchContext& c) {
    Writer& out = console();
    if (auto s = enter_vmx_root(c.msrs, c.caps, c.frames); !s) return report_problem("VMX operation", s.error());

    static GuestMemory memory(identity_window());
    if (auto s = allocate_guest_memory(c.frames, c.config.guest_mem, memory); !s) {
        return report_problem("guest memory", s.error());
    }
    bool linux_guest = configured_for_linux(c.config, c.boot);
    auto entry = linux_guest ? load_linux_guest(c.config, c.boot, memory,
                                                c.config.has_guest_mac ? abi::kVirtioNetMmio : 0,
                                                static_cast<std::uint32_t>(virtio::VirtioMmioNet::kSize))
                             : load_test_guest(c.config, c.boot, memory);
    if (!entry) return;

    static PortIoBus io(out);
    static Uart16550Model uart(out);
    if (auto s = io.attach(Uart16550Model::kBase, Uart16550Model::kPorts, uart); !s) {
        return report_problem("its devices", s.error());
    }

    bool checkpointing = c.config.mode == Mode::checkpoint;
    auto method = dirty_method(c.config, c.caps);
    if (!method) return report_problem("dirty tracking", method.error());

    std::uint64_t hash_before = image_hash();
    println(out, "tandem: image hash before the guest: {}", hex(hash_before, 16));
    static VirtualMachine vm(c.frames);
    VmSetup setup{c.msrs, c.caps, c.frames, memory, *entry, c.tsc_khz};
    setup.small_pages = checkpointing;
    setup.pml = checkpointing && *method == DirtyTracking::pml;
    setup.local_apic = linux_guest;
    if (auto s = vm.create(setup, io, out); !s) return report_problem("VM setup", s.error());

    static LoopbackSession session(vm, memory, out);
    // Every model with state is checkpointed: one refused (too many) stops the launch.
    Status registered = session.add_device(uart);
    static MmioBus mmio;

    // An unmodified kernel gets the PC around its CPU: APIC, IOAPIC, PIC, PIT, RTC, power ports.
    PcPlatform* pc = nullptr;
    if (linux_guest) {
        static VmcsGuestClock clock(vm.vmcs(), vm.platform());
        static PcPlatform platform(clock, out, PcPlatformConfig{c.tsc_khz * 1000, guest_rtc_start(out), kLinuxPowerPorts});
        if (auto s = platform.attach(io, mmio); !s) return report_problem("its devices", s.error());
        for (StatefulDevice* d : platform.devices()) {
            if (registered) registered = session.add_device(*d);
        }
        vm.vcpu().set_interrupts(&platform);
        uart.set_interrupt_line(&platform.irq_lines(), Uart16550Model::kIrqPin);
        vm.vcpu().set_mmio_bus(&mmio);
        vm.vcpu().set_timer_reload(c.tsc_khz >> c.caps.preemption_timer_shift);  // 1 ms ticks
        static GuestPowerWatch watch(vm.vcpu(), platform.power());
        (void)vm.add_tick_listener(watch);
        pc = &platform;
        println(out, "vm: PC devices: local APIC (xAPIC page, TSC-deadline timer) at {}, IOAPIC at {}, 8259 PIC "
                     "pair (masked), 8254 PIT, CMOS RTC; APIC timer crystal {} Hz",
                hex(LocalApicModel::kDefaultBase), hex(IoApicModel::kBase), apic_timer_clock(c.tsc_khz * 1000).crystal_hz);
    }

    // The guest's network: a virtio-net card on the client NIC (guest_mac= asks for it).
    virtio::VirtioMmioNet* net = nullptr;
    if (c.config.has_guest_mac) {
        auto nics = setup_nics(c.config, c.frames, c.tsc_khz, false, true);
        if (!nics) return report_problem("the client NIC for the guest's network", nics.error());
        static ClientNicSender sender(*nics->client);
        static virtio::VirtioMmioNet device(memory, sender, c.config.guest_mac.bytes, out);
        // The Linux guest's ACPI tables give the card this IOAPIC input (linux_guest.hpp).
        if (pc != nullptr) device.set_interrupt_line(&pc->irq_lines(), kLinuxVirtioNetGsi);
        static GuestNetwork network(*nics->client, device, c.config.guest_mac);
        if (auto s = mmio.attach(abi::kVirtioNetMmio, virtio::VirtioMmioNet::kSize, device); !s) {
            return report_problem("its devices", s.error());
        }
        vm.vcpu().set_mmio_bus(&mmio);
        (void)vm.add_tick_listener(network);
        vm.vcpu().set_timer_reload(c.tsc_khz);  // 1 ms ticks: the network is polled on them
        if (registered) registered = session.add_device(device);
        if (registered) registered = session.add_memory_user(device);
        net = &device;
        println(out, "vm: virtio-net at {} with MAC {} on the client NIC", hex(abi::kVirtioNetMmio),
                ColonHex{c.config.guest_mac.bytes, 6});
    }
    if (!registered) return report_problem("checkpointing", registered.error());
    if (checkpointing) {
        LoopbackConfig lc{c.config.epoch_ms,
                          c.config.capture == CaptureChoice::cow ? engine::CaptureMode::cow : engine::CaptureMode::copy,
                          *method,
                          c.config.verify_every,
                          c.config.failover_at,
                          c.config.restore_every,
                          c.config.epoch_report,
                          c.tsc_khz};
        if (auto s = session.start(lc, c.frames); !s) return report_problem("checkpointing", s.error());
    }
    static Shell shell(out);
    static ConsoleInput input(shell);
    static ShellContext shell_context{&vm, &session, checkpointing};
    (void)shell.add({"status", "the guest and checkpointing state", command_status, &shell_context});
    (void)shell.add({"failover", "stop the primary and resume the guest from the backup", command_failover,
                     &shell_context});
    (void)vm.add_tick_listener(input);
    // No prompt yet: guest output would start on the prompt's line. One follows each command.
    println(out, "tandem: console ready: type 'help'");
    GuestRunResult run = vm.run();
    uart.flush();
    if (net != nullptr) {
        const virtio::NetStats& ns = net->stats();
        println(out, "vm: virtio-net: {} frames sent, {} received, {} dropped (no buffer), {} dropped (too big), "
                     "{} protocol errors",
                ns.tx_frames, ns.rx_frames, ns.rx_dropped_no_buffer, ns.rx_dropped_too_big, ns.protocol_errors);
    }
    if (checkpointing) session.finish();
    GuestRunResult* result = &run;
    if (pc != nullptr) {
        println(out, "vm: {} interrupts injected, {} HLT exits; local APIC: {} interrupts accepted, {} timer expiries",
                run.stats.injected_interrupts, run.stats.halts, pc->local_apic().stats().accepted,
                pc->local_apic().stats().timer_expiries);
    }

    const GuestEnd& end = result->end;
    if (end.kind == GuestEnd::Kind::exited) {
        println(out, "tandem: guest exited with code {}", end.exit_code);
    } else {
        println(out, "tandem: guest stopped: {}", end.reason);
    }
    const VcpuStats& st = result->stats;
    println(out, "vm: {} exits (cpuid {}, I/O {}, msr {}, vmcall {}, cr {}, timer {}, external interrupts {}), "
                 "{} exceptions injected, {} accesses to absent ports",
            st.exits, st.exits_by_reason[static_cast<int>(ExitReason::cpuid)],
            st.exits_by_reason[static_cast<int>(ExitReason::io_instruction)],
            st.exits_by_reason[static_cast<int>(ExitReason::rdmsr)] + st.exits_by_reason[static_cast<int>(ExitReason::wrmsr)],
            st.exits_by_reason[static_cast<int>(ExitReason::vmcall)],
            st.exits_by_reason[static_cast<int>(ExitReason::cr_access)],
            st.exits_by_reason[static_cast<int>(ExitReason::preemption_timer)],
            st.exits_by_reason[static_cast<int>(ExitReason::external_interrupt)], st.injected_exceptions,
            io.unclaimed_accesses());
    std::uint64_t hash_after = image_hash();
    println(out, "tandem: image hash after the guest: {} ({})", hex(hash_after, 16),
            hash_after == hash_before ? "unchanged" : "CHANGED: the hypervisor's memory was modified");
}

}  // namespace tandem::x86
