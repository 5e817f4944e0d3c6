// How an interrupt line signals: the two properties the MADT's interrupt source overrides
// (ACPI 6.5 §5.2.12.5) and an _CRS interrupt descriptor (§6.4.3.6) both state.
#pragma once

#include <cstdint>

namespace tandem::guest_boot::acpi {

enum class Trigger : std::uint8_t { edge, level };
enum class Polarity : std::uint8_t { active_high, active_low };

}  // namespace tandem::guest_boot::acpi
