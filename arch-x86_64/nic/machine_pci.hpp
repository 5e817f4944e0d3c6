// The machine's PCI configuration space, chosen once in the boot report (before the VT-x check,
// so even a machine tandem refuses lists its PCI functions): ECAM when the ACPI MCFG table gives
// a region for segment 0 (arch-x86_64/acpi/pci_access_plan.hpp), mapped uncached, otherwise
// configuration mechanism #1. The console says which and why; then every function is listed.
#pragma once

#include "arch-x86_64/boot/boot_info.hpp"
#include "nic-drivers/pci/config_space.hpp"
#include "nic-drivers/pci/device.hpp"

namespace tandem::x86 {

struct MachinePci {
    pci::ConfigSpace& config;
    const pci::DeviceList& devices;
};

// Reads the ACPI tables (the boot loader's RSDP copy, else the BIOS areas), chooses, enumerates
// and lists. Needs the host page tables (the ECAM region and the tables are mapped on demand).
void discover_pci(const boot::BootInfo& info);

// What discover_pci() chose and found. Should it not have run, mechanism #1 is used and
// enumerated now (with the console saying so).
MachinePci machine_pci();

}  // namespace tandem::x86
