#include "guest-boot/acpi/fadt.hpp"

#include "guest-boot/acpi/sdt_header.hpp"

namespace tandem::guest_boot::acpi {
namespace {

// A System I/O register (§5.2.3.2): the 8-bit sleep and reset registers, read and written by
// byte, and the 32-bit PM timer, read by double word (§4.8.3.3).
Gas io_register(std::uint16_t port, std::uint8_t bit_width, std::uint8_t access_size) {
    Gas g{};
    g.address_space = kGasSystemIo;
    g.bit_width = bit_width;
    g.bit_offset = 0;
    g.access_size = access_size;
    g.address = port;
    return g;
}

}  // namespace

Fadt make_fadt(const AcpiConfig& config, std::uint64_t dsdt_address) {
    Fadt f{};
    f.header = make_sdt_header("FACP", sizeof(Fadt), kFadtRevision);
    f.fadt_minor_version = kFadtMinorRevision;
    // Only the 64-bit pointer: when X_DSDT is non-zero the 32-bit DSDT field is ignored (§5.2.9),
    // and ACPICA warns when both are set and differ.
    f.x_dsdt = dsdt_address;
    // PWR_BUTTON and SLP_BUTTON say there is no fixed-feature button, which a hardware-reduced
    // platform cannot have anyway (as Firecracker writes them).
    f.flags = kFadtHwReducedAcpi | kFadtResetRegSup | kFadtPwrButton | kFadtSlpButton;
    // The PM timer, although §5.2.9 has OSPM ignore PM_TMR_BLK on a hardware-reduced platform:
    // x86 Linux reads X_PM_TMR_BLK (PM_TMR_BLK when it is 0) in acpi_parse_fadt
    // (arch/x86/kernel/acpi/boot.c) whatever the flags, and ACPICA keeps the table's X fields
    // (acpi_tb_convert_fadt stops before rewriting them on reduced hardware). Linux then has the
    // acpi_pm clocksource to judge the TSC by (hypervisor/devices/acpi_pm_timer.hpp). Both
    // fields agree, so ACPICA has no 32/64-bit mismatch to warn about.
    if (config.pm_timer_port != 0) {
        f.pm_tmr_blk = config.pm_timer_port;
        f.pm_tmr_len = 4;
        f.x_pm_tmr_blk = io_register(config.pm_timer_port, 32, kGasAccessDword);
        f.flags |= kFadtTmrValExt;
    }
    // Linux 6.1's acpi_parse_fadt (arch/x86/kernel/acpi/boot.c) reads 8042 (clear: the i8042
    // driver does not probe), VGA Not Present (no legacy VGA probing) and CMOS RTC Not Present;
    // pci_acpi_init (drivers/pci/pci-acpi.c) turns PCI MSI off on MSI Not Supported.
    std::uint16_t iapc = kIapcVgaNotPresent;
    if (config.has_8042) iapc |= kIapc8042;
    if (!config.msi_supported) iapc |= kIapcMsiNotSupported;
    // CMOS RTC Not Present stays clear while the RTC is modelled: set, Linux would register no
    // RTC platform device (acpi_parse_fadt: x86_platform.legacy.rtc = 0).
    if (!config.rtc.present) iapc |= kIapcCmosRtcNotPresent;
    f.iapc_boot_arch = iapc;
    // CENTURY (offset 108) stays 0: §5.2.9 has OSPM ignore offsets 46-108 of a hardware-reduced
    // FADT. Linux reads it anyway (mc146818_get_time, rtc_cmos): at 0 it takes years 00-69 as
    // 20xx, right until 2070, and never writes a century byte (which the RTC model keeps as plain
    // CMOS RAM, not as part of its clock). The RTC_S4 flag stays clear too: RTC wake goes through
    // the PM1 event registers' RTC_STS/RTC_EN bits, which a hardware-reduced platform lacks (§4.1).
    f.reset_reg = io_register(config.reset_port, 8, kGasAccessByte);
    f.reset_value = config.reset_value;
    f.sleep_control_reg = io_register(config.sleep_control_port, 8, kGasAccessByte);
    f.sleep_status_reg = io_register(config.sleep_status_port, 8, kGasAccessByte);
    __builtin_memcpy(f.hypervisor_vendor_id, kHypervisorVendorId, sizeof kHypervisorVendorId);

    auto* bytes = reinterpret_cast<std::uint8_t*>(&f);
    seal_table(std::span<std::uint8_t>{bytes, sizeof f});
    return f;
}

}  // namespace tandem::guest_boot::acpi
