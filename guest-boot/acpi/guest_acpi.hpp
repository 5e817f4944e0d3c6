// The ACPI tables tandem gives its Linux guest (DESIGN.md §6): a hardware-reduced ACPI platform
// (ACPI 6.5 §4.1), the model Firecracker uses, written into one caller-given region of guest
// memory. Linux finds them through boot_params.acpi_rsdp_addr (LinuxBootRequest::acpi_rsdp), so
// no BIOS scan area is needed; the region must be in the e820 map as ACPI (acpi_memory_range).
//
// The region, from its base (every table 8-byte aligned, every pointer a guest-physical address
// inside the region):
//   RSDP (revision 2) -> XSDT -> FADT -> DSDT (AML)
//                             -> MADT
// - FADT (revision 6.5, 276 bytes): HW_REDUCED_ACPI, so there is no SCI, no PM1/GPE blocks and
//   no FACS; power-off goes through SLEEP_CONTROL_REG, reboot through RESET_REG; the PM timer
//   (optional) through X_PM_TMR_BLK, which Linux reads even on reduced hardware (fadt.cpp).
// - MADT: the boot CPU's local APIC, one IOAPIC, the ISA interrupt source overrides.
// - DSDT: \_S5 (power-off) and, under \_SB, the virtio-mmio devices and optionally COM1 and
//   the CMOS RTC.
//
// What the guest does with it (Linux 6.1):
// - Power-off: acpi_sleep_state_supported(S5) needs \_S5 and, in hardware-reduced mode, both
//   SLEEP_CONTROL_REG and SLEEP_STATUS_REG non-zero (drivers/acpi/sleep.c); ACPICA's
//   acpi_hw_extended_sleep then writes (SLP_TYP << 2) | SLP_EN (bit 5) as one byte to the sleep
//   control port: 0x34 for the default sleep type 5.
// - Reboot: the default reboot method is ACPI (arch/x86/kernel/reboot.c), which writes
//   RESET_VALUE as one byte to the RESET_REG port (acpi_reset, RESET_REG_SUP must be set).
// - Hardware-reduced mode makes x86 Linux use no legacy PIC (null_legacy_pic) and skip
//   x86_init.timers.timer_init (no PIT/HPET clock event): the local APIC timer must serve
//   (acpi_generic_reduced_hw_init, arch/x86/kernel/acpi/boot.c).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "guest-boot/acpi/interrupt_mode.hpp"
#include "guest-boot/linux_boot.hpp"
#include "hypervisor/util/result.hpp"

namespace tandem::guest_boot::acpi {

inline constexpr std::uint32_t kLocalApicAddress = 0xfee0'0000;
inline constexpr std::uint32_t kIoApicAddress = 0xfec0'0000;
inline constexpr std::size_t kMaxVirtioDevices = 256;  // named VR00..VRFF
inline constexpr std::size_t kMaxInterruptOverrides = 16;  // one per ISA IRQ at most

// A virtio-mmio device (virtio spec 1.2 §4.2): its register window and its IOAPIC input.
struct VirtioMmioDevice {
    std::uint64_t base = 0;   // below 4 GiB (Memory32Fixed)
    std::uint32_t size = 0x1000;
    std::uint32_t gsi = 0;
    Trigger trigger = Trigger::edge;  // what Firecracker uses; level needs the IOAPIC's EOI path
};

// An ISA IRQ that reaches the IOAPIC on another input or with other signalling (MADT type 2).
struct InterruptOverride {
    std::uint8_t isa_irq = 0;
    std::uint32_t gsi = 0;
    Trigger trigger = Trigger::edge;
    Polarity polarity = Polarity::active_high;
};

// The PC's usual overrides: the PIT's IRQ0 on IOAPIC input 2 (input 0 is the 8259's ExtINT),
// and IRQ9 (the SCI on a full-ACPI PC) level-triggered, active high.
inline constexpr InterruptOverride kDefaultOverrides[] = {
    {0, 2, Trigger::edge, Polarity::active_high},
    {9, 9, Trigger::level, Polarity::active_high},
};

struct IoApicConfig {
    std::uint8_t id = 0;
    std::uint32_t address = kIoApicAddress;
    std::uint32_t gsi_base = 0;
    std::uint32_t pins = 24;  // checked against: every GSI named must be one of its inputs
};

struct Com1Config {
    bool present = false;
    std::uint16_t port = 0x3f8;
    std::uint32_t gsi = 4;
};

// The PC's MC146818 CMOS RTC (hypervisor/devices/cmos_rtc_model.hpp: index/data ports 0x70-0x71,
// ISA IRQ 8 on IOAPIC input 8). When present, the FADT's IAPC_BOOT_ARCH says so (bit 5 clear)
// and the DSDT describes it as a PNP0B00 device (dsdt.hpp) for Linux's rtc_cmos driver.
struct RtcConfig {
    bool present = true;
    std::uint16_t port = 0x70;
    std::uint32_t gsi = 8;
};

struct AcpiConfig {
    std::uint64_t table_base = 0;  // guest-physical address of out[0]; 16-byte aligned (RSDP)
    // 8-bit System I/O registers (FADT SLEEP_CONTROL_REG, SLEEP_STATUS_REG, RESET_REG); none may
    // be 0, which ACPICA reads as "absent".
    std::uint16_t sleep_control_port = 0;
    std::uint16_t sleep_status_port = 0;
    std::uint16_t reset_port = 0;
    std::uint8_t reset_value = 0;
    std::uint8_t s5_sleep_type = 5;  // \_S5's SLP_TYPa: what the sleep control port receives in bits 4:2
    // The ACPI PM timer's 32-bit System I/O register (FADT PM_TMR_BLK and X_PM_TMR_BLK, with
    // TMR_VAL_EXT); 0: none.
    std::uint16_t pm_timer_port = 0;
    // IAPC_BOOT_ARCH: VGA is never present; MSI "not supported" unless msi_supported.
    bool has_8042 = false;
    bool msi_supported = false;
    // MADT PCAT_COMPAT: tandem models a (masked) 8259 pair. Linux's hardware-reduced x86 path
    // ignores the PIC either way.
    bool pcat_compat = true;
    std::uint8_t local_apic_id = 0;
    IoApicConfig ioapic{};
    std::span<const InterruptOverride> overrides = kDefaultOverrides;
    std::span<const VirtioMmioDevice> virtio_devices{};
    Com1Config com1{};
    RtcConfig rtc{};
};

// Where the tables went: guest-physical addresses inside [base, base + size).
struct AcpiTables {
    std::uint64_t base = 0;
    std::uint64_t size = 0;       // bytes of the region used, from base
    std::uint64_t rsdp = 0;       // == base: for LinuxBootRequest::acpi_rsdp
    std::uint64_t xsdt = 0;
    std::uint64_t fadt = 0;
    std::uint64_t madt = 0;
    std::uint64_t dsdt = 0;
};

// Checks the config, then writes every table into out (out[0] is at config.table_base). Refuses
// with the reason, leaving out untouched, when the config is invalid or out is too small (the
// error's value is then the size needed).
Result<AcpiTables> build_acpi_tables(const AcpiConfig& config, std::span<std::uint8_t> out);

// How many bytes build_acpi_tables would write for config (after the same checks).
Result<std::uint64_t> acpi_tables_size(const AcpiConfig& config);

// The e820 entry for the tables: type ACPI (3), widened to whole 4 KiB pages so no page is part
// RAM and part tables (Linux rounds RAM ranges inwards to pages).
linux_boot::MemoryRange acpi_memory_range(const AcpiTables& tables);

}  // namespace tandem::guest_boot::acpi
