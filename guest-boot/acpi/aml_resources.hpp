// Resource templates (ACPI 6.5 §6.4, "Resource Data Types for ACPI"): the Buffer an _CRS object
// holds, a list of resource descriptors closed by an End Tag. Only the descriptors tandem's guest
// devices need:
//  - Memory32Fixed (§6.4.3.4): a virtio-mmio window. Linux's ACPI platform-device code
//    (acpi_dev_resource_memory) turns it into the IORESOURCE_MEM that virtio_mmio_probe maps.
//  - Extended Interrupt, ASL Interrupt() (§6.4.3.6): a 32-bit GSI. The small IRQ descriptor
//    (§6.4.2.1) only names IRQs 0-15, and virtio-mmio lines sit above those; Linux's
//    acpi_dev_resource_interrupt registers the GSI with the trigger and polarity given here, which
//    is what platform_get_irq() hands the driver. Firecracker describes its devices the same way.
//  - I/O port (§6.4.2.5): a UART's registers.
#pragma once

#include <cstdint>

#include "guest-boot/acpi/aml_writer.hpp"
#include "guest-boot/acpi/interrupt_mode.hpp"

namespace tandem::guest_boot::acpi::aml {

// Descriptor tags: small items are (name << 3) | length (§6.4.2), large items 0x80 | name (§6.4.3).
inline constexpr std::uint8_t kTagIoPort = 0x47;          // small, name 0x08, 7 bytes follow
inline constexpr std::uint8_t kTagEnd = 0x79;             // small, name 0x0F, 1 byte follows
inline constexpr std::uint8_t kTagMemory32Fixed = 0x86;   // large, name 0x06
inline constexpr std::uint8_t kTagExtendedInterrupt = 0x89;  // large, name 0x09

// Extended Interrupt flags (§6.4.3.6).
inline constexpr std::uint8_t kIntConsumer = 1u << 0;
inline constexpr std::uint8_t kIntEdge = 1u << 1;
inline constexpr std::uint8_t kIntActiveLow = 1u << 2;
inline constexpr std::uint8_t kIntShared = 1u << 3;

// Buffer() { descriptors..., EndTag }: write descriptors between open and close.
Writer::Mark open_resource_template(Writer& w);
// Appends the End Tag with a checksum that makes the descriptors and the tag sum to zero
// (§6.4.2.9; zero would also do, meaning "not checked"), then closes the Buffer.
void close_resource_template(Writer& w, Writer::Mark mark);

// Memory32Fixed(ReadWrite or ReadOnly, base, length).
void memory32_fixed(Writer& w, bool writable, std::uint32_t base, std::uint32_t length);
// Interrupt(ResourceConsumer, trigger, polarity, Exclusive or Shared) { gsi }.
void extended_interrupt(Writer& w, Trigger trigger, Polarity polarity, bool shared, std::uint32_t gsi);
// IO(Decode16, base, base, 1, length): a fixed 16-bit-decoded port range.
void io_port(Writer& w, std::uint16_t base, std::uint8_t length);

}  // namespace tandem::guest_boot::acpi::aml
