// The boot listing of PCI functions, one line each, lspci-like, e.g.
//   pci: 00:03.0 8086:100e class 02.00 (Ethernet) rev 03 irq 11 pin A BAR0 mem32 0xfebc0000 size
//        128 KiB BAR1 io 0xc000 size 64 B                          (one line on the console)
//   pci: 00:1e.0 8086:244e class 06.04 (PCI bridge) rev d9 bus 01-01
#pragma once

#include "hypervisor/console/writer.hpp"
#include "nic-drivers/pci/device.hpp"

namespace tandem::pci {

void print_device(Writer& w, const Device& d);
// Every device, then a line for those the list had no room for.
void print_devices(Writer& w, const DeviceList& list);

}  // namespace tandem::pci
