#include "guest-boot/acpi/aml_resources.hpp"

#include "guest-boot/acpi/table_layout.hpp"

namespace tandem::guest_boot::acpi::aml {

Writer::Mark open_resource_template(Writer& w) { return w.open_buffer(); }

void close_resource_template(Writer& w, Writer::Mark mark) {
    w.byte(kTagEnd);
    std::span<const std::uint8_t> body = w.since(mark);  // empty when measuring
    w.byte(checksum_for(body));
    w.close_buffer(mark);
}

void memory32_fixed(Writer& w, bool writable, std::uint32_t base, std::uint32_t length) {
    // §6.4.3.4: tag, length 9, information (bit 0: read/write), base, length.
    w.byte(kTagMemory32Fixed);
    w.word(9);
    w.byte(writable ? 1 : 0);
    w.dword(base);
    w.dword(length);
}

void extended_interrupt(Writer& w, Trigger trigger, Polarity polarity, bool shared, std::uint32_t gsi) {
    // §6.4.3.6: tag, length (2 + 4 per interrupt, no resource source), flags, table length, GSIs.
    std::uint8_t flags = kIntConsumer;
    if (trigger == Trigger::edge) flags |= kIntEdge;
    if (polarity == Polarity::active_low) flags |= kIntActiveLow;
    if (shared) flags |= kIntShared;
    w.byte(kTagExtendedInterrupt);
    w.word(6);
    w.byte(flags);
    w.byte(1);
    w.dword(gsi);
}

void io_port(Writer& w, std::uint16_t base, std::uint8_t length) {
    // §6.4.2.5: tag, information (bit 0: decodes 16 address bits), minimum, maximum,
    // alignment, length.
    w.byte(kTagIoPort);
    w.byte(1);
    w.word(base);
    w.word(base);
    w.byte(1);
    w.byte(length);
}

}  // namespace tandem::guest_boot::acpi::aml
