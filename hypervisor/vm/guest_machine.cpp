#include "hypervisor/vm/guest_machine.hpp"

namespace tandem {

void GuestMachine::DeviceTicks::on_tick() {
    uart_.poll_transmitter();
    if (power_.request() != PowerControl::Request::none && vcpu_.guest_running()) vcpu_.stop_guest(power_.describe());
}

Status GuestMachine::attach_uart() { return io_.attach(Uart16550Model::kBase, Uart16550Model::kPorts, uart_); }

Status GuestMachine::build(const MachineSpec& spec, VcpuWiring& vcpu, GuestMemory& ram, virtio::NetBackend* net_output) {
    if (auto s = devices_.add(uart_); !s) return s;
    if (spec.pc_platform) {
        if (auto s = build_pc(spec, vcpu); !s) return s;
    }
    if (spec.network) {
        if (net_output == nullptr) return Error::of("vm: a network card without an output (a tandem bug)");
        if (auto s = build_network(spec, vcpu, ram, *net_output); !s) return s;
    }
    return success();
}

Status GuestMachine::build_pc(const MachineSpec& spec, VcpuWiring& vcpu) {
    pc_.emplace(vcpu.guest_clock(), log_, PcPlatformConfig{spec.tsc_hz, spec.rtc_unix_seconds, spec.power});
    if (auto s = pc_->attach(io_, mmio_); !s) return s;
    for (StatefulDevice* d : pc_->devices()) {
        if (auto s = devices_.add(*d); !s) return s;
    }
    vcpu.set_interrupts(&*pc_);
    vcpu.set_mmio_bus(&mmio_);
    uart_.set_interrupt_line(&pc_->irq_lines(), Uart16550Model::kIrqPin);
    device_ticks_.emplace(vcpu, pc_->power(), uart_);
    if (auto s = vcpu.add_tick_listener(*device_ticks_); !s) return s;
    println(log_, "vm: PC devices: local APIC (xAPIC page, TSC-deadline timer) at {}, IOAPIC at {}, 8259 PIC "
                  "pair (masked), 8254 PIT, CMOS RTC, ACPI PM timer at port {}; APIC timer crystal {} Hz",
            hex(LocalApicModel::kDefaultBase), hex(IoApicModel::kBase), hex(AcpiPmTimer::kPort),
            apic_timer_clock(spec.tsc_hz).crystal_hz);
    return success();
}

Status GuestMachine::build_network(const MachineSpec& spec, VcpuWiring& vcpu, GuestMemory& ram,
                                   virtio::NetBackend& output) {
    net_.emplace(ram, output, spec.guest_mac.bytes, log_);
    if (pc_) net_->set_interrupt_line(&pc_->irq_lines(), spec.net_gsi);
    if (auto s = mmio_.attach(spec.net_mmio_base, virtio::VirtioMmioNet::kSize, *net_); !s) return s;
    vcpu.set_mmio_bus(&mmio_);
    if (auto s = devices_.add(*net_); !s) return s;
    println(log_, "vm: virtio-net at {} with MAC {} on the client NIC{}", hex(spec.net_mmio_base),
            ColonHex{spec.guest_mac.bytes, 6}, spec.net_note);
    return success();
}

void GuestMachine::use_memory(GuestMemory& ram) {
    if (net_) net_->set_memory(ram);
}

void GuestMachine::report(Writer& out, std::uint64_t injected_interrupts, std::uint64_t halts) const {
    if (net_) {
        const virtio::NetStats& ns = net_->stats();
        println(out, "vm: virtio-net: {} frames sent, {} received, {} dropped (no buffer), {} dropped (too big), "
                     "{} protocol errors",
                ns.tx_frames, ns.rx_frames, ns.rx_dropped_no_buffer, ns.rx_dropped_too_big, ns.protocol_errors);
    }
    if (pc_) {
        println(out, "vm: {} interrupts injected, {} HLT exits; local APIC: {} interrupts accepted, {} timer expiries",
                injected_interrupts, halts, pc_->local_apic().stats().accepted, pc_->local_apic().stats().timer_expiries);
    }
}

}  // namespace tandem
