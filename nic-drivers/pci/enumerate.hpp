// Enumeration: finds every function reachable from bus 0 the way firmware left the hierarchy
// (tandem assigns no bus numbers and moves no BARs). Bus 0 is scanned, then the secondary bus of
// every PCI-to-PCI bridge found (PCI-to-PCI Bridge Architecture Specification 1.2 §3.2.5.3), once
// each, so a loop in a broken hierarchy ends. When 00:00.0 is a multi-function device, each of
// its functions N that is a host bridge (class 06.00) is the host bridge of bus N (several host
// controllers), and bus N is scanned too.
// Within a bus: device 0-31; function 0 decides whether the device exists (vendor 0xffff =
// absent, PCI Local Bus Specification 3.0 §6.2.1) and, by header type bit 7, whether
// functions 1-7 are scanned.
#pragma once

#include <cstddef>
#include <cstdint>

#include "nic-drivers/pci/config_space.hpp"
#include "nic-drivers/pci/device.hpp"

namespace tandem::pci {

struct ScanOptions {
    // Probe every bus number 0-255 instead of following bridges: finds root buses that only
    // ACPI describes (e.g. QEMU's pxb), at the cost of 8192 vendor reads.
    bool all_buses = false;
};

struct ScanSummary {
    std::size_t functions = 0;  // found, including those the list had no room for
    std::size_t buses = 0;      // scanned
    std::size_t dropped = 0;    // found but not stored (the list was full)
};

// Reads the header of the function at `at` into `out` and sizes its BARs. False when absent.
bool read_function(ConfigSpace& config, Address at, Device& out);

// Clears `out` and fills it with every function found, in address order.
ScanSummary enumerate(ConfigSpace& config, DeviceList& out, const ScanOptions& options = {});

}  // namespace tandem::pci
