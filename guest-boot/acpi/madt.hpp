// The guest's MADT (ACPI 6.5 §5.2.12): one processor, one IOAPIC, the ISA overrides.
//
// The processor is described by a Processor Local APIC entry (type 0), not a Local x2APIC entry
// (type 9), although tandem's vCPU runs its APIC in x2APIC mode:
//  - §5.2.12.12: a processor whose APIC id is below 255 must be described by a type-0 entry;
//    type 9 is for ids of 255 and above. A CPU's x2APIC id equals its 8-bit initial APIC id.
//  - Linux 6.1 (acpi_parse_madt_lapic_entries, arch/x86/kernel/acpi/boot.c) registers type-0
//    and type-9 entries alike (acpi_register_lapic) in whatever mode the APIC is; it has no check
//    for an id listed twice (the has_lapic_cpus filter came later), so also listing the CPU as
//    type 9 would count it twice. One type-0 entry is what Firecracker and cloud-hypervisor write.
//  - LOCAL_APIC_ADDRESS stays 0xFEE00000: Linux needs it for xAPIC mode, which it falls back to
//    when it turns x2APIC off (no interrupt remapping and no hypervisor it knows to allow it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "guest-boot/acpi/guest_acpi.hpp"

namespace tandem::guest_boot::acpi {

inline constexpr std::uint8_t kMadtRevision = 6;  // as Firecracker writes (ACPI 6.5)

std::size_t madt_size(const AcpiConfig& config);

// Writes the MADT, checksum included, into out (madt_size(config) bytes).
void write_madt(const AcpiConfig& config, std::span<std::uint8_t> out);

}  // namespace tandem::guest_boot::acpi
