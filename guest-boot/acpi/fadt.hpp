// The guest's FADT (ACPI 6.5 §5.2.9), hardware-reduced (§4.1): see guest_acpi.hpp for what
// Linux does with each register it names.
#pragma once

#include <cstdint>
#include <span>

#include "guest-boot/acpi/guest_acpi.hpp"
#include "guest-boot/acpi/table_layout.hpp"

namespace tandem::guest_boot::acpi {

inline constexpr std::uint8_t kFadtRevision = 6;
inline constexpr std::uint8_t kFadtMinorRevision = 5;  // ACPI 6.5
inline constexpr char kHypervisorVendorId[8] = {'T', 'A', 'N', 'D', 'E', 'M', ' ', ' '};

// The FADT for config, pointing at the DSDT at dsdt_address (X_DSDT), checksum included.
Fadt make_fadt(const AcpiConfig& config, std::uint64_t dsdt_address);

}  // namespace tandem::guest_boot::acpi
