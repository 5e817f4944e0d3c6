// How a device model raises an interrupt: by driving an input pin of the IOAPIC (ioapic_model.hpp
// implements this; tests use a recording fake). ISA devices are wired to the IOAPIC as the guest's
// ACPI/MP tables say: IRQ0 (PIT) to pin 2 through the usual interrupt source override, IRQ8 (RTC)
// to pin 8, IRQ n to pin n otherwise.
#pragma once

namespace tandem {

class IrqLines {
public:
    // asserted is the line's logical state (the IOAPIC entry's polarity bit is not applied: every
    // model here drives active-high ISA lines, and a future level-triggered PCI device passes its
    // logical state too, as KVM's and QEMU's IOAPICs expect).
    virtual void set_irq(unsigned pin, bool asserted) = 0;

protected:
    ~IrqLines() = default;
};

}  // namespace tandem
