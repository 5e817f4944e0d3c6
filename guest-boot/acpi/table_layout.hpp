// The ACPI tables tandem writes for its guest, as the guest reads them from memory (little-endian,
// packed): the Generic Address Structure (ACPI 6.5 §5.2.3.2), the FADT (§5.2.9) and the MADT with
// the three entry types tandem uses (§5.2.12). The RSDP, the common table header and the checksum
// every table carries are in shared_layout.hpp, shared with arch-x86_64/acpi/, which reads the
// host's tables.
#pragma once

#include <cstddef>
#include <cstdint>

#include "guest-boot/acpi/shared_layout.hpp"

namespace tandem::guest_boot::acpi {

// §5.2.3.2: Generic Address Structure.
struct [[gnu::packed]] Gas {
    std::uint8_t address_space;  // kGasSystemIo, ...
    std::uint8_t bit_width;
    std::uint8_t bit_offset;
    std::uint8_t access_size;    // kGasAccessByte, ...
    std::uint64_t address;
};
static_assert(sizeof(Gas) == 12);
static_assert(offsetof(Gas, address) == 4);
inline constexpr std::uint8_t kGasSystemIo = 1;
inline constexpr std::uint8_t kGasAccessByte = 1;
inline constexpr std::uint8_t kGasAccessDword = 3;

// §5.2.9: the Fixed ACPI Description Table, 276 bytes since ACPI 6.0 added the
// hypervisor vendor identity. In a hardware-reduced FADT (HW_REDUCED_ACPI) everything from
// SCI_INT to CENTURY and from X_PM1a_EVT_BLK to X_GPE1_BLK is ignored and left zero.
struct [[gnu::packed]] Fadt {
    SdtHeader header;                 // "FACP", revision 6
    std::uint32_t firmware_ctrl;      // FACS: none (optional in hardware-reduced mode)
    std::uint32_t dsdt;               // 0: X_DSDT is used
    std::uint8_t reserved0;
    std::uint8_t preferred_pm_profile;
    std::uint16_t sci_int;
    std::uint32_t smi_cmd;
    std::uint8_t acpi_enable;
    std::uint8_t acpi_disable;
    std::uint8_t s4bios_req;
    std::uint8_t pstate_cnt;
    std::uint32_t pm1a_evt_blk;
    std::uint32_t pm1b_evt_blk;
    std::uint32_t pm1a_cnt_blk;
    std::uint32_t pm1b_cnt_blk;
    std::uint32_t pm2_cnt_blk;
    std::uint32_t pm_tmr_blk;
    std::uint32_t gpe0_blk;
    std::uint32_t gpe1_blk;
    std::uint8_t pm1_evt_len;
    std::uint8_t pm1_cnt_len;
    std::uint8_t pm2_cnt_len;
    std::uint8_t pm_tmr_len;
    std::uint8_t gpe0_blk_len;
    std::uint8_t gpe1_blk_len;
    std::uint8_t gpe1_base;
    std::uint8_t cst_cnt;
    std::uint16_t p_lvl2_lat;
    std::uint16_t p_lvl3_lat;
    std::uint16_t flush_size;
    std::uint16_t flush_stride;
    std::uint8_t duty_offset;
    std::uint8_t duty_width;
    std::uint8_t day_alrm;
    std::uint8_t mon_alrm;
    std::uint8_t century;
    std::uint16_t iapc_boot_arch;     // kIapc* (§5.2.9.3)
    std::uint8_t reserved1;
    std::uint32_t flags;              // kFadt* (§5.2.9.1)
    Gas reset_reg;
    std::uint8_t reset_value;
    std::uint16_t arm_boot_arch;
    std::uint8_t fadt_minor_version;
    std::uint64_t x_firmware_ctrl;
    std::uint64_t x_dsdt;
    Gas x_pm1a_evt_blk;
    Gas x_pm1b_evt_blk;
    Gas x_pm1a_cnt_blk;
    Gas x_pm1b_cnt_blk;
    Gas x_pm2_cnt_blk;
    Gas x_pm_tmr_blk;
    Gas x_gpe0_blk;
    Gas x_gpe1_blk;
    Gas sleep_control_reg;            // hardware-reduced S-state entry (§4.8.3.7)
    Gas sleep_status_reg;
    char hypervisor_vendor_id[8];
};
static_assert(sizeof(Fadt) == 276);
static_assert(offsetof(Fadt, firmware_ctrl) == 36);
static_assert(offsetof(Fadt, dsdt) == 40);
static_assert(offsetof(Fadt, sci_int) == 46);
static_assert(offsetof(Fadt, pm1a_evt_blk) == 56);
static_assert(offsetof(Fadt, pm_tmr_blk) == 76);
static_assert(offsetof(Fadt, pm1_evt_len) == 88);
static_assert(offsetof(Fadt, pm_tmr_len) == 91);
static_assert(offsetof(Fadt, x_pm_tmr_blk) == 208);
static_assert(offsetof(Fadt, p_lvl2_lat) == 96);
static_assert(offsetof(Fadt, century) == 108);
static_assert(offsetof(Fadt, iapc_boot_arch) == 109);
static_assert(offsetof(Fadt, flags) == 112);
static_assert(offsetof(Fadt, reset_reg) == 116);
static_assert(offsetof(Fadt, reset_value) == 128);
static_assert(offsetof(Fadt, arm_boot_arch) == 129);
static_assert(offsetof(Fadt, fadt_minor_version) == 131);
static_assert(offsetof(Fadt, x_firmware_ctrl) == 132);
static_assert(offsetof(Fadt, x_dsdt) == 140);
static_assert(offsetof(Fadt, x_pm1a_evt_blk) == 148);
static_assert(offsetof(Fadt, x_gpe1_blk) == 232);
static_assert(offsetof(Fadt, sleep_control_reg) == 244);
static_assert(offsetof(Fadt, sleep_status_reg) == 256);
static_assert(offsetof(Fadt, hypervisor_vendor_id) == 268);

// §5.2.9.1, FADT flags.
inline constexpr std::uint32_t kFadtTmrValExt = 1u << 8;       // the PM timer counts 32 bits, not 24
inline constexpr std::uint32_t kFadtPwrButton = 1u << 4;      // no fixed-feature power button
inline constexpr std::uint32_t kFadtSlpButton = 1u << 5;      // no fixed-feature sleep button
inline constexpr std::uint32_t kFadtResetRegSup = 1u << 10;   // RESET_REG/RESET_VALUE are valid
inline constexpr std::uint32_t kFadtHwReducedAcpi = 1u << 20;
// §5.2.9.3, IA-PC boot architecture flags.
inline constexpr std::uint16_t kIapcLegacyDevices = 1u << 0;
inline constexpr std::uint16_t kIapc8042 = 1u << 1;
inline constexpr std::uint16_t kIapcVgaNotPresent = 1u << 2;
inline constexpr std::uint16_t kIapcMsiNotSupported = 1u << 3;
inline constexpr std::uint16_t kIapcPcieAspmControls = 1u << 4;
inline constexpr std::uint16_t kIapcCmosRtcNotPresent = 1u << 5;

// §5.2.12: the MADT's fixed part; interrupt controller structures follow.
struct [[gnu::packed]] MadtHeader {
    SdtHeader header;                 // "APIC"
    std::uint32_t local_apic_address;
    std::uint32_t flags;              // kMadtPcatCompat
};
static_assert(sizeof(MadtHeader) == 44);
static_assert(offsetof(MadtHeader, local_apic_address) == 36);
static_assert(offsetof(MadtHeader, flags) == 40);
inline constexpr std::uint32_t kMadtPcatCompat = 1u << 0;  // §5.2.12 Multiple APIC Flags: a dual 8259 too

// §5.2.12.2: Processor Local APIC (type 0).
struct [[gnu::packed]] MadtLocalApic {
    std::uint8_t type;                // 0
    std::uint8_t length;              // 8
    std::uint8_t processor_uid;
    std::uint8_t apic_id;
    std::uint32_t flags;              // kMadtLapicEnabled
};
static_assert(sizeof(MadtLocalApic) == 8);
static_assert(offsetof(MadtLocalApic, apic_id) == 3);
static_assert(offsetof(MadtLocalApic, flags) == 4);
inline constexpr std::uint8_t kMadtTypeLocalApic = 0;
inline constexpr std::uint32_t kMadtLapicEnabled = 1u << 0;  // §5.2.12.2 Local APIC Flags

// §5.2.12.3: I/O APIC (type 1).
struct [[gnu::packed]] MadtIoApic {
    std::uint8_t type;                // 1
    std::uint8_t length;              // 12
    std::uint8_t io_apic_id;
    std::uint8_t reserved;
    std::uint32_t address;
    std::uint32_t gsi_base;
};
static_assert(sizeof(MadtIoApic) == 12);
static_assert(offsetof(MadtIoApic, address) == 4);
static_assert(offsetof(MadtIoApic, gsi_base) == 8);
inline constexpr std::uint8_t kMadtTypeIoApic = 1;

// §5.2.12.5: Interrupt Source Override (type 2).
struct [[gnu::packed]] MadtInterruptOverride {
    std::uint8_t type;                // 2
    std::uint8_t length;              // 10
    std::uint8_t bus;                 // 0: ISA
    std::uint8_t source;              // the ISA IRQ
    std::uint32_t gsi;
    std::uint16_t flags;              // MPS INTI flags (§5.2.12.5)
};
static_assert(sizeof(MadtInterruptOverride) == 10);
static_assert(offsetof(MadtInterruptOverride, source) == 3);
static_assert(offsetof(MadtInterruptOverride, gsi) == 4);
static_assert(offsetof(MadtInterruptOverride, flags) == 8);
inline constexpr std::uint8_t kMadtTypeInterruptOverride = 2;
// §5.2.12.5, MPS INTI flags: polarity in bits 1:0, trigger mode in bits 3:2 (01 = active high /
// edge, 11 = active low / level; 00 = "conforms to the bus", which tandem never writes).
inline constexpr std::uint16_t kIntiActiveHigh = 0b01;
inline constexpr std::uint16_t kIntiActiveLow = 0b11;
inline constexpr std::uint16_t kIntiEdge = 0b01 << 2;
inline constexpr std::uint16_t kIntiLevel = 0b11 << 2;

}  // namespace tandem::guest_boot::acpi
