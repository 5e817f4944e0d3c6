// The guest's machine around its vCPU, built once from the configuration for every mode: the
// port and MMIO buses, the COM1 UART, the PC platform an unmodified kernel expects (local APIC,
// IOAPIC, PIC, PIT, RTC, power ports; pc_platform.hpp), the virtio-net card, the power watch
// that ends the guest when it powers off, and the DeviceSet of every model with state, which
// every mode checkpoints and restores the same strict way. The vCPU side comes through
// VcpuWiring (the x86 layer implements it; host tests fake it).
#pragma once

#include <cstdint>
#include <optional>

#include "hypervisor/console/writer.hpp"
#include "hypervisor/devices/guest_clock.hpp"
#include "hypervisor/devices/guest_interrupt_source.hpp"
#include "hypervisor/devices/mmio_bus.hpp"
#include "hypervisor/devices/pc_platform.hpp"
#include "hypervisor/devices/port_io.hpp"
#include "hypervisor/devices/uart16550_model.hpp"
#include "hypervisor/devices/virtio/virtio_net.hpp"
#include "hypervisor/net/mac_address.hpp"
#include "hypervisor/vm/device_set.hpp"
#include "hypervisor/vm/guest_memory.hpp"
#include "hypervisor/vm/tick_listener.hpp"

namespace tandem {

// What the machine needs of the vCPU it is built around.
class VcpuWiring {
public:
    virtual GuestClock& guest_clock() = 0;
    virtual void set_interrupts(GuestInterruptSource* source) = 0;
    virtual void set_mmio_bus(MmioBus* bus) = 0;
    virtual Status add_tick_listener(TickListener& listener) = 0;
    virtual void stop_guest(const char* reason) = 0;
    virtual bool guest_running() const = 0;

protected:
    ~VcpuWiring() = default;
};

struct MachineSpec {
    bool pc_platform = false;        // an unmodified kernel: the PC devices around its CPU
    std::uint64_t tsc_hz = 0;        // the guest's TSC frequency (timer models count in it)
    std::int64_t rtc_unix_seconds = 0;  // the RTC's time at guest TSC 0
    PowerPorts power{};
    bool network = false;            // a virtio-net card (guest_mac=)
    MacAddress guest_mac{};
    std::uint64_t net_mmio_base = 0;  // its virtio-mmio window
    unsigned net_gsi = 0;             // its IOAPIC input (with the PC platform)
    const char* net_note = "";        // said after "on the client NIC" (where its output goes)
};

class GuestMachine {
public:
    explicit GuestMachine(Writer& log) : GuestMachine(log, log) {}
    // `guest_output` takes what the guest prints on its UART (console.hpp: guest_console()).
    GuestMachine(Writer& log, Writer& guest_output) : log_(log), io_(log), uart_(guest_output) {}
    GuestMachine(const GuestMachine&) = delete;
    GuestMachine& operator=(const GuestMachine&) = delete;

    // The port bus with COM1 on it: the vCPU is created over it before build().
    Status attach_uart();
    PortIoBus& io() { return io_; }

    // Adds the models the spec asks for, wires them to the buses and the vCPU, and lists every
    // model with state in devices(). `net_output` takes the guest's frames (spec.network).
    Status build(const MachineSpec& spec, VcpuWiring& vcpu, GuestMemory& ram, virtio::NetBackend* net_output);

    DeviceSet& devices() { return devices_; }
    Uart16550Model& uart() { return uart_; }
    PcPlatform* pc() { return pc_ ? &*pc_ : nullptr; }
    virtio::VirtioMmioNet* net() { return net_ ? &*net_ : nullptr; }
    // Models that reach guest RAM themselves follow the guest to other RAM (a local failover).
    void use_memory(GuestMemory& ram);
    // The end-of-run figures of the models (virtio-net frames, interrupts).
    void report(Writer& out, std::uint64_t injected_interrupts, std::uint64_t halts) const;

private:
    // The PC's work at every tick: ends the guest when it powers itself off or asks for a reset,
    // and gives the UART's THRE interrupt once tandem's console has room again.
    class DeviceTicks final : public TickListener {
    public:
        DeviceTicks(VcpuWiring& vcpu, const PowerControl& power, Uart16550Model& uart)
            : vcpu_(vcpu), power_(power), uart_(uart) {}
        void on_tick() override;

    private:
        VcpuWiring& vcpu_;
        const PowerControl& power_;
        Uart16550Model& uart_;
    };

    Status build_pc(const MachineSpec& spec, VcpuWiring& vcpu);
    Status build_network(const MachineSpec& spec, VcpuWiring& vcpu, GuestMemory& ram, virtio::NetBackend& output);

    Writer& log_;
    PortIoBus io_;
    Uart16550Model uart_;
    MmioBus mmio_;
    DeviceSet devices_;
    std::optional<PcPlatform> pc_;
    std::optional<DeviceTicks> device_ticks_;
    std::optional<virtio::VirtioMmioNet> net_;
};

}  // namespace tandem
