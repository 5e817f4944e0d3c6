// How tandem reaches PCI configuration space on this machine, decided from the ACPI tables:
// ECAM (PCI Express Base 4.0 §7.2.2) when the MCFG table (PCI Firmware Specification 3.2 §4.1.2)
// gives a region for segment 0 that decodes bus 0, configuration mechanism #1 otherwise. ECAM
// reaches the 4 KiB extended configuration space of PCI Express functions and needs no port
// pair; mechanism #1 works on every PC, so anything wrong with the tables falls back to it.
//
// Portable: the decision and its report are tested on the host over synthetic tables; the
// machine maps the region and builds the configuration space (arch-x86_64/nic/machine_pci.cpp).
#pragma once

#include <cstdint>
#include <span>

#include "arch-x86_64/acpi/mcfg.hpp"
#include "arch-x86_64/acpi/rsdp.hpp"
#include "arch-x86_64/boot/multiboot1.hpp"
#include "hypervisor/console/writer.hpp"
#include "hypervisor/util/result.hpp"

namespace tandem::acpi {

struct PciAccessPlan {
    enum class Mechanism { mechanism1, ecam };
    enum class RsdpSource { none, boot_loader, bios_area };

    Mechanism mechanism = Mechanism::mechanism1;
    EcamRegion ecam;  // for Mechanism::ecam: the segment-0 region used

    // Why mechanism #1, when the tables are sound ("no ACPI MCFG table", ...).
    const char* reason = "";
    // The tables were there but broken: which one ("RSDP", "XSDT", "RSDT", "MCFG") and how.
    const char* malformed = nullptr;
    Error problem{};

    // What was found, for the report.
    RsdpSource rsdp_source = RsdpSource::none;
    std::uint64_t rsdp_address = 0;  // bios_area only (the loader's copy has no firmware address)
    bool rsdp_valid = false;
    RootPointer rsdp{};
    bool root_valid = false;
    std::uint64_t root_address = 0;
    bool root_extended = false;
    std::size_t root_entries = 0;
    std::uint64_t mcfg_address = 0;
    McfgTable mcfg{};  // every region the MCFG lists (stored = 0 when there is none)
};

// `loader_rsdp`: the boot loader's copy of the RSDP (multiboot 2 tags 14/15), empty when it gave
// none; then the BIOS areas are searched (rsdp_scan.hpp). Never fails: a malformed table is
// recorded in the plan, which then says mechanism #1.
PciAccessPlan plan_pci_access(const boot::PhysicalReader& memory, std::span<const std::uint8_t> loader_rsdp);

// The console lines, e.g.
//   acpi: RSDP revision 2 "BOCHS " from the boot loader; XSDT at 0x7fe2295 lists 5 tables; MCFG at 0x7fe21f5
//   pci: ECAM at 0xb0000000 buses 0-255 (ACPI MCFG)
// or "pci: configuration mechanism #1 (no ACPI MCFG table)"; a malformed table gets its own line
// naming the table and the fault before the fallback line.
void report_pci_access(Writer& out, const PciAccessPlan& plan);

}  // namespace tandem::acpi
