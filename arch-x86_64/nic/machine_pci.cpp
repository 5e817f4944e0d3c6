#include "arch-x86_64/nic/machine_pci.hpp"

#include "arch-x86_64/acpi/pci_access_plan.hpp"
#include "arch-x86_64/acpi/table_ranges.hpp"
#include "arch-x86_64/cpu/intrinsics.hpp"
#include "arch-x86_64/paging/host_paging.hpp"
#include "hypervisor/console/console.hpp"
#include "nic-drivers/pci/ecam.hpp"
#include "nic-drivers/pci/enumerate.hpp"
#include "nic-drivers/pci/mechanism1.hpp"
#include "nic-drivers/pci/print.hpp"

namespace tandem::x86 {
namespace {

struct PortIo {
    std::uint8_t in8(std::uint16_t port) { return inb(port); }
    std::uint16_t in16(std::uint16_t port) { return inw(port); }
    std::uint32_t in32(std::uint16_t port) { return inl(port); }
    void out8(std::uint16_t port, std::uint8_t v) { outb(port, v); }
    void out16(std::uint16_t port, std::uint16_t v) { outw(port, v); }
    void out32(std::uint16_t port, std::uint32_t v) { outl(port, v); }
};

// Physical memory as ACPI tables may occupy it (table_ranges.hpp), mapped read-only on demand;
// everything else is refused, so a table pointer into a device's registers is a malformed table,
// not a read with side effects. Page 0, and with it the EBDA segment word at 0x40E, stays
// unmapped: the RSDP search then covers the BIOS area only.
class FirmwareMemory final : public boot::PhysicalReader {
public:
    explicit FirmwareMemory(std::span<const boot::MemoryRegion> map) : map_(map) {}

    std::span<const std::uint8_t> bytes(std::uint64_t phys, std::size_t length) const override {
        if (length == 0 || phys + length < phys || !acpi::may_hold_tables(map_, phys, phys + length)) return {};
        if (!map_firmware_tables(phys, length)) return {};
        return {reinterpret_cast<const std::uint8_t*>(phys), length};
    }

private:
    std::span<const boot::MemoryRegion> map_;
};

constinit pci::ConfigSpace* chosen = nullptr;
constinit pci::DeviceList devices;

pci::ConfigSpace& mechanism1() {
    static PortIo ports;
    static pci::Mechanism1ConfigSpace<PortIo> space(ports);
    return space;
}

// The ECAM region mapped uncached (configuration registers have side effects and must not be
// cached, PCI Express Base 4.0 §7.2.2), or nullptr with the console saying why.
pci::ConfigSpace* ecam(const acpi::EcamRegion& region) {
    if (auto s = map_device_memory(region.first_byte(), region.size()); !s) {
        println(console(), "pci: cannot map the ECAM region at {}: {}", hex(region.first_byte()), s.error());
        return nullptr;
    }
    static pci::VolatileEcamAccess access(reinterpret_cast<volatile std::uint8_t*>(region.first_byte()));
    static pci::EcamConfigSpace<pci::VolatileEcamAccess> space(access, region.start_bus, region.end_bus);
    return &space;
}

void enumerate_and_list(pci::ConfigSpace& config) {
    Writer& out = console();
    chosen = &config;
    pci::ScanSummary scan = pci::enumerate(config, devices);
    println(out, "pci: {} function(s) on {} bus(es){}", scan.functions, scan.buses,
            scan.dropped != 0 ? " (some not listed: the table is full)" : "");
    pci::print_devices(out, devices);
}

}  // namespace

void discover_pci(const boot::BootInfo& info) {
    Writer& out = console();
    FirmwareMemory memory(info.memory_map());
    acpi::PciAccessPlan plan = acpi::plan_pci_access(memory, info.acpi_rsdp);
    acpi::report_pci_access(out, plan);
    pci::ConfigSpace* config = nullptr;
    if (plan.mechanism == acpi::PciAccessPlan::Mechanism::ecam) {
        config = ecam(plan.ecam);
        if (config == nullptr) println(out, "pci: configuration mechanism #1 (the ECAM region could not be mapped)");
    }
    enumerate_and_list(config != nullptr ? *config : mechanism1());
}

MachinePci machine_pci() {
    if (chosen == nullptr) {
        println(console(), "pci: configuration mechanism #1 (the boot report did not choose one)");
        enumerate_and_list(mechanism1());
    }
    return MachinePci{*chosen, devices};
}

}  // namespace tandem::x86
