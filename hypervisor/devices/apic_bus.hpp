// The messages between the IOAPIC and the (single) local APIC: a fixed interrupt for a vector,
// and the EOI broadcast the local APIC sends when the guest ends a level-triggered interrupt
// (Intel SDM Vol. 3A §11.8.5), which clears the IOAPIC entry's remote IRR.
#pragma once

#include <cstdint>

namespace tandem {

class ApicInterruptSink {
public:
    // A fixed-mode interrupt for vector; false if the APIC did not take it (disabled, illegal vector).
    virtual bool accept(std::uint8_t vector, bool level_triggered) = 0;

protected:
    ~ApicInterruptSink() = default;
};

class EoiListener {
public:
    virtual void end_of_interrupt(std::uint8_t vector) = 0;

protected:
    ~EoiListener() = default;
};

}  // namespace tandem
