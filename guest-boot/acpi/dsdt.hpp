// The guest's DSDT (ACPI 6.5 §5.2.11.1): its AML body, equivalent to this ASL
//
//   Name (_S5, Package (0x04) { <s5_sleep_type>, Zero, Zero, Zero })
//   Scope (\_SB) {
//       Device (COM1) {                                     // when com1.present
//           Name (_HID, EisaId ("PNP0501"))
//           Name (_UID, Zero)
//           Name (_CRS, ResourceTemplate () {
//               IO (Decode16, 0x03F8, 0x03F8, 0x01, 0x08)
//               Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive) { 4 }
//           })
//       }
//       Device (RTC) {                                      // when rtc.present
//           Name (_HID, EisaId ("PNP0B00"))
//           Name (_CRS, ResourceTemplate () {
//               IO (Decode16, 0x0070, 0x0070, 0x01, 0x02)
//               Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive) { 8 }
//           })
//       }
//       Device (VR00) {                                     // one per virtio-mmio device, VR<n in hex>
//           Name (_HID, "LNRO0005")
//           Name (_UID, n)
//           Name (_CCA, One)
//           Name (_CRS, ResourceTemplate () {
//               Memory32Fixed (ReadWrite, base, size)
//               Interrupt (ResourceConsumer, Edge or Level, ActiveHigh, Exclusive) { gsi }
//           })
//       }
//   }
//
// - \_S5: Package { SLP_TYPa, SLP_TYPb, reserved, reserved } (§7.4.2); in hardware-reduced mode
//   only SLP_TYPa matters, written to the FADT's sleep control register.
// - LNRO0005 is the ACPI id Linux's virtio_mmio driver matches (virtio_mmio_acpi_match,
//   drivers/virtio/virtio_mmio.c); the ACPI core makes each such device a platform device whose
//   resource 0 is the Memory32Fixed window (devm_platform_ioremap_resource(pdev, 0)) and whose
//   IRQ 0 is the Interrupt's GSI (platform_get_irq). _CCA One says DMA is cache-coherent (§6.2.17),
//   which is true of tandem's guest memory; Firecracker writes the same device.
// - COM1 is the 16550 at 0x3F8 (DESIGN.md §6). Linux's 8250 driver finds it by port anyway; the
//   PNP0501 device gives it an ACPI companion, as Firecracker does.
// - RTC is the MC146818 CMOS clock (§9.15, "PC/AT RTC/CMOS Devices"; PNP0B00 is the
//   PC/AT-compatible one). Linux's rtc_cmos needs it here: without a PNP0B0x device, x86's
//   add_rtc_cmos (arch/x86/kernel/rtc.c) registers a bare "rtc_cmos" platform device with IRQ 8,
//   which a hardware-reduced guest has never mapped (no legacy PIC, so no ISA IRQs), and the probe
//   fails in request_irq (-EINVAL): no rtc0, and the clock starts at 1970. Through pnpacpi
//   (drivers/acpi/acpi_pnp.c) the _CRS interrupt is registered with the IOAPIC, as COM1's is;
//   the IO range is the two ports the model decodes, index and data (no second bank at 0x72).
#pragma once

#include "guest-boot/acpi/aml_writer.hpp"
#include "guest-boot/acpi/guest_acpi.hpp"

namespace tandem::guest_boot::acpi {

inline constexpr std::uint8_t kDsdtRevision = 2;  // 2 and above: AML integers are 64-bit (§5.2.11.1)

// Writes the DSDT's AML body (without the table header) for config.
void write_dsdt_body(aml::Writer& w, const AcpiConfig& config);

}  // namespace tandem::guest_boot::acpi
