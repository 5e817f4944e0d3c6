#include "guest-boot/acpi/madt.hpp"

#include "guest-boot/acpi/sdt_header.hpp"
#include "guest-boot/acpi/table_layout.hpp"

namespace tandem::guest_boot::acpi {

std::size_t madt_size(const AcpiConfig& config) {
    return sizeof(MadtHeader) + sizeof(MadtLocalApic) + sizeof(MadtIoApic) +
           config.overrides.size() * sizeof(MadtInterruptOverride);
}

void write_madt(const AcpiConfig& config, std::span<std::uint8_t> out) {
    const std::size_t size = madt_size(config);
    std::span<std::uint8_t> table = out.first(size);

    MadtHeader header{};
    header.header = make_sdt_header("APIC", static_cast<std::uint32_t>(size), kMadtRevision);
    header.local_apic_address = kLocalApicAddress;
    header.flags = config.pcat_compat ? kMadtPcatCompat : 0;
    std::size_t at = 0;
    store(table, at, header);
    at += sizeof header;

    MadtLocalApic lapic{};
    lapic.type = kMadtTypeLocalApic;
    lapic.length = sizeof lapic;
    lapic.processor_uid = 0;
    lapic.apic_id = config.local_apic_id;
    lapic.flags = kMadtLapicEnabled;
    store(table, at, lapic);
    at += sizeof lapic;

    MadtIoApic ioapic{};
    ioapic.type = kMadtTypeIoApic;
    ioapic.length = sizeof ioapic;
    ioapic.io_apic_id = config.ioapic.id;
    ioapic.address = config.ioapic.address;
    ioapic.gsi_base = config.ioapic.gsi_base;
    store(table, at, ioapic);
    at += sizeof ioapic;

    for (const InterruptOverride& o : config.overrides) {
        MadtInterruptOverride iso{};
        iso.type = kMadtTypeInterruptOverride;
        iso.length = sizeof iso;
        iso.bus = 0;  // ISA
        iso.source = o.isa_irq;
        iso.gsi = o.gsi;
        iso.flags = static_cast<std::uint16_t>((o.polarity == Polarity::active_high ? kIntiActiveHigh : kIntiActiveLow) |
                                               (o.trigger == Trigger::edge ? kIntiEdge : kIntiLevel));
        store(table, at, iso);
        at += sizeof iso;
    }
    seal_table(table);
}

}  // namespace tandem::guest_boot::acpi
