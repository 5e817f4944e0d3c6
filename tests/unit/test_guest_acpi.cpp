// The guest's ACPI tables (guest-boot/acpi/guest_acpi.hpp): checksums of every table, field
// offsets and values, the pointer chain RSDP -> XSDT -> FADT -> DSDT / MADT inside the region,
// refusals (bad config, too small a region: nothing written), the e820 range. ACPICA's own
// reading of them is in test_guest_acpi_iasl.cpp.
#include <doctest/doctest.h>

#include <cstdint>
#include <string>

#include "guest_acpi_fixture.hpp"

using namespace guest_acpi_test;

TEST_CASE("guest acpi tables: RSDP and XSDT point at the FADT and MADT inside the region") {
    Built b = build(sample_config());
    const AcpiTables& t = b.tables;
    CHECK(t.base == kBase);
    CHECK(t.rsdp == kBase);
    for (std::uint64_t p : {t.xsdt, t.fadt, t.madt, t.dsdt}) {
        CHECK(p > t.base);
        CHECK(p < t.base + t.size);
        CHECK(p % 8 == 0);
    }

    auto rsdp = b.at(t.rsdp, sizeof(Rsdp));
    CHECK(text(rsdp, 0, 8) == "RSD PTR ");
    CHECK(checksum_ok(rsdp.first(20)));
    CHECK(checksum_ok(rsdp));
    CHECK(rsdp[8] != 0);  // a real checksum, not just zeroes
    CHECK(text(rsdp, 9, 6) == "TANDEM");
    CHECK(rsdp[15] == 2);
    CHECK(le<std::uint32_t>(rsdp, 16) == 0);
    CHECK(le<std::uint32_t>(rsdp, 20) == 36);
    CHECK(le<std::uint64_t>(rsdp, 24) == t.xsdt);

    auto xsdt = b.table(t.xsdt);
    check_header(xsdt, "XSDT", 1);
    REQUIRE(xsdt.size() == 36 + 16);
    CHECK(le<std::uint64_t>(xsdt, 36) == t.fadt);
    CHECK(le<std::uint64_t>(xsdt, 44) == t.madt);

    // The tables end where the DSDT ends; padding between tables is zero, not leftover bytes.
    CHECK(t.dsdt + b.table(t.dsdt).size() == t.base + t.size);
    for (std::uint64_t gpa = t.base + sizeof(Rsdp); gpa < t.xsdt; ++gpa) CHECK(b.at(gpa, 1)[0] == 0);
}

TEST_CASE("guest acpi tables: the FADT is a hardware-reduced ACPI 6.5 FADT") {
    AcpiConfig config = sample_config();
    Built b = build(config);
    auto f = b.table(b.tables.fadt);
    REQUIRE(f.size() == 276);
    check_header(f, "FACP", 6);
    CHECK(f[131] == 5);  // FADT minor version
    CHECK(le<std::uint32_t>(f, 36) == 0);  // FIRMWARE_CTRL: no FACS
    CHECK(le<std::uint32_t>(f, 40) == 0);  // DSDT: X_DSDT instead
    CHECK(le<std::uint64_t>(f, 132) == 0);
    CHECK(le<std::uint64_t>(f, 140) == b.tables.dsdt);
    std::uint32_t flags = le<std::uint32_t>(f, 112);
    CHECK(flags == ((1u << 20) | (1u << 10) | (1u << 8) | (1u << 5) | (1u << 4)));  // bit 8: TMR_VAL_EXT
    // IAPC_BOOT_ARCH: VGA not present, MSI not supported; no 8042, CMOS RTC present (bit 5
    // clear: set, Linux would not look for the RTC the DSDT describes).
    CHECK(le<std::uint16_t>(f, 109) == 0x000c);
    CHECK((le<std::uint16_t>(f, 109) & 0x0020) == 0);
    // The PM timer: PM_TMR_BLK (76) and PM_TMR_LEN (91), X_PM_TMR_BLK (208) as a 32-bit System
    // I/O register read by double word; Linux reads it even on reduced hardware.
    CHECK(le<std::uint32_t>(f, 76) == 0x608);
    CHECK(f[91] == 4);
    CHECK(Bytes(f.begin() + 208, f.begin() + 220) == Bytes{1, 32, 0, 3, 0x08, 0x06, 0, 0, 0, 0, 0, 0});
    // Everything else legacy is zero: SCI, SMI, PM1/PM2/GPE blocks and their X_ forms, and
    // DAY_ALRM, MON_ALRM, CENTURY (106-108), which a hardware-reduced FADT leaves to be ignored.
    for (std::size_t o = 44; o < 109; ++o) {
        if ((o < 76 || o >= 80) && o != 91) CHECK(f[o] == 0);
    }
    for (std::size_t o = 148; o < 244; ++o) {
        if (o < 208 || o >= 220) CHECK(f[o] == 0);
    }
    // RESET_REG at 116 and RESET_VALUE at 128; the sleep registers at 244 and 256: 8-bit System I/O.
    CHECK(Bytes(f.begin() + 116, f.begin() + 129) == Bytes{1, 8, 0, 1, 0xc2, 0x03, 0, 0, 0, 0, 0, 0, 0x42});
    CHECK(Bytes(f.begin() + 244, f.begin() + 256) == Bytes{1, 8, 0, 1, 0xc0, 0x03, 0, 0, 0, 0, 0, 0});
    CHECK(Bytes(f.begin() + 256, f.begin() + 268) == Bytes{1, 8, 0, 1, 0xc1, 0x03, 0, 0, 0, 0, 0, 0});
    CHECK(text(f, 268, 8) == "TANDEM  ");

    config.has_8042 = true;
    config.msi_supported = true;
    config.rtc.present = false;
    config.pm_timer_port = 0;
    Built other = build(config);
    auto g = other.table(other.tables.fadt);
    CHECK(le<std::uint16_t>(g, 109) == (0x0004 | 0x0002 | 0x0020));
    // Without a PM timer port: no PM timer fields and no TMR_VAL_EXT.
    CHECK((le<std::uint32_t>(g, 112) & (1u << 8)) == 0);
    for (std::size_t o = 44; o < 109; ++o) CHECK(g[o] == 0);
    for (std::size_t o = 148; o < 244; ++o) CHECK(g[o] == 0);
}

TEST_CASE("guest acpi tables: the MADT lists one local APIC, the IOAPIC and the overrides") {
    AcpiConfig config = sample_config();
    config.ioapic.id = 3;
    Built b = build(config);
    auto m = b.table(b.tables.madt);
    REQUIRE(m.size() == 44 + 8 + 12 + 2 * 10);
    check_header(m, "APIC", 6);
    CHECK(le<std::uint32_t>(m, 36) == 0xfee00000);
    CHECK(le<std::uint32_t>(m, 40) == 1);  // PCAT_COMPAT
    CHECK(Bytes(m.begin() + 44, m.begin() + 52) == Bytes{0, 8, 0, 0, 1, 0, 0, 0});
    CHECK(Bytes(m.begin() + 52, m.begin() + 64) == Bytes{1, 12, 3, 0, 0x00, 0x00, 0xc0, 0xfe, 0, 0, 0, 0});
    // IRQ0 -> GSI 2 edge/high (flags 0101), IRQ9 -> GSI 9 level/high (flags 1101).
    CHECK(Bytes(m.begin() + 64, m.begin() + 74) == Bytes{2, 10, 0, 0, 2, 0, 0, 0, 0x05, 0x00});
    CHECK(Bytes(m.begin() + 74, m.begin() + 84) == Bytes{2, 10, 0, 9, 9, 0, 0, 0, 0x0d, 0x00});

    const InterruptOverride overrides[] = {{4, 20, Trigger::level, Polarity::active_low}};
    config.overrides = overrides;
    config.pcat_compat = false;
    config.ioapic.gsi_base = 8;
    config.ioapic.pins = 16;
    config.local_apic_id = 0;
    config.virtio_devices = {};
    config.com1.gsi = 12;
    Built other = build(config);
    auto m2 = other.table(other.tables.madt);
    REQUIRE(m2.size() == 44 + 8 + 12 + 10);
    CHECK(checksum_ok(m2));
    CHECK(le<std::uint32_t>(m2, 40) == 0);
    CHECK(le<std::uint32_t>(m2, 60) == 8);
    CHECK(Bytes(m2.begin() + 64, m2.end()) == Bytes{2, 10, 0, 4, 20, 0, 0, 0, 0x0f, 0x00});
}

TEST_CASE("guest acpi tables: the DSDT holds _S5, COM1, the RTC and the virtio-mmio devices") {
    Built b = build(sample_config());
    auto d = b.table(b.tables.dsdt);
    check_header(d, "DSDT", 2);
    auto aml = d.subspan(36);
    // Name(_S5_, Package(4){5, Zero, Zero, Zero}) comes first.
    CHECK(Bytes(aml.begin(), aml.begin() + 13) ==
          Bytes{0x08, '_', 'S', '5', '_', 0x12, 0x07, 0x04, 0x0a, 0x05, 0x00, 0x00, 0x00});
    CHECK(contains(aml, {0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x05, 0x01}));  // EisaId PNP0501
    CHECK(contains(aml, {0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08}));           // IO 0x3F8
    CHECK(contains(aml, kRtcDevice));
    CHECK(contains(aml, {0x0d, 'L', 'N', 'R', 'O', '0', '0', '0', '5', 0x00}));
    CHECK(contains(aml, {'V', 'R', '0', '0'}));
    CHECK(contains(aml, {'V', 'R', '0', '1'}));
    // VR00: Memory32Fixed(ReadWrite, 0xD0000000, 0x1000), Interrupt(Edge, High, Exclusive){5}.
    CHECK(contains(aml, {0x86, 0x09, 0x00, 0x01, 0x00, 0x00, 0x00, 0xd0, 0x00, 0x10, 0x00, 0x00,  //
                         0x89, 0x06, 0x00, 0x03, 0x01, 0x05, 0x00, 0x00, 0x00, 0x79}));
    // VR01: 0xD0001000 + 0x200, level-triggered GSI 17.
    CHECK(contains(aml, {0x86, 0x09, 0x00, 0x01, 0x00, 0x10, 0x00, 0xd0, 0x00, 0x02, 0x00, 0x00,  //
                         0x89, 0x06, 0x00, 0x01, 0x01, 0x11, 0x00, 0x00, 0x00, 0x79}));

    AcpiConfig config = sample_config();
    config.s5_sleep_type = 0;
    config.com1.present = false;
    config.rtc.present = false;
    config.virtio_devices = {};
    Built bare = build(config);
    auto bare_aml = bare.table(bare.tables.dsdt).subspan(36);
    // _S5 with sleep type 0, then an empty Scope(\_SB).
    CHECK(Bytes(bare_aml.begin(), bare_aml.end()) ==
          Bytes{0x08, '_', 'S', '5', '_', 0x12, 0x06, 0x04, 0x00, 0x00, 0x00, 0x00,  //
                0x10, 0x06, '\\', '_', 'S', 'B', '_'});
}

TEST_CASE("guest acpi tables: 256 virtio-mmio devices need a multi-byte scope length") {
    std::vector<VirtioMmioDevice> many;
    for (std::uint32_t i = 0; i < 256; ++i) many.push_back({0xc000'0000 + i * 0x1000ull, 0x1000, 16 + i % 8, Trigger::edge});
    AcpiConfig config = sample_config();
    config.virtio_devices = many;
    Result<std::uint64_t> size = acpi_tables_size(config);
    REQUIRE(size.ok());
    Built b = build(config, *size);
    CHECK(b.tables.size == *size);
    auto d = b.table(b.tables.dsdt);
    CHECK(checksum_ok(d));
    CHECK(d.size() > 4096 * 4);
    CHECK(contains(d, {'V', 'R', 'F', 'F'}));
    // The scope follows _S5 (13 bytes): ScopeOp and a three-byte PkgLength (content > 4093).
    auto aml = d.subspan(36);
    CHECK(aml[13] == 0x10);
    CHECK((aml[14] >> 6) == 2);
    std::uint32_t scope_length = (aml[14] & 0x0fu) | (std::uint32_t{aml[15]} << 4) | (std::uint32_t{aml[16]} << 12);
    CHECK(13 + 1 + scope_length == aml.size());

    many.push_back({0xc100'0000, 0x1000, 16, Trigger::edge});
    config.virtio_devices = many;
    CHECK_FALSE(acpi_tables_size(config).ok());
}

TEST_CASE("guest acpi tables: a region too small is refused and left untouched") {
    AcpiConfig config = sample_config();
    Result<std::uint64_t> size = acpi_tables_size(config);
    REQUIRE(size.ok());
    std::vector<std::uint8_t> region(*size - 1, 0xcc);
    Result<AcpiTables> r = build_acpi_tables(config, region);
    REQUIRE_FALSE(r.ok());
    CHECK(message_of(r).find("too small") != std::string::npos);
    CHECK(r.error().value == *size);
    for (std::uint8_t byte : region) CHECK(byte == 0xcc);

    region.assign(*size, 0xcc);
    r = build_acpi_tables(config, region);
    REQUIRE(r.ok());
    CHECK(r->size == *size);

    std::vector<std::uint8_t> empty;
    CHECK_FALSE(build_acpi_tables(config, empty).ok());
}

TEST_CASE("guest acpi tables: invalid configurations are refused with a reason") {
    std::array<std::uint8_t, 0x4000> region{};
    auto refused = [&](const AcpiConfig& c, const char* why) {
        CAPTURE(why);
        region.fill(0xcc);
        Result<AcpiTables> r = build_acpi_tables(c, region);
        CHECK_FALSE(r.ok());
        CHECK(message_of(r).find(why) != std::string::npos);
        for (std::uint8_t byte : region) CHECK(byte == 0xcc);
        CHECK_FALSE(acpi_tables_size(c).ok());
    };
    AcpiConfig c = sample_config();
    c.table_base = kBase + 8;
    refused(c, "16-byte aligned");
    c = sample_config();
    c.sleep_control_port = 0;
    refused(c, "sleep control port");
    c = sample_config();
    c.sleep_status_port = 0;
    refused(c, "sleep status port");
    c = sample_config();
    c.reset_port = 0;
    refused(c, "reset port");
    c = sample_config();
    c.s5_sleep_type = 8;
    refused(c, "sleep type");
    c = sample_config();
    c.local_apic_id = 0xff;
    refused(c, "APIC id");
    c = sample_config();
    c.ioapic.pins = 0;
    refused(c, "IOAPIC");

    const InterruptOverride bad_irq[] = {{16, 2, Trigger::edge, Polarity::active_high}};
    c = sample_config();
    c.overrides = bad_irq;
    refused(c, "below 16");
    const InterruptOverride twice[] = {{0, 2, Trigger::edge, Polarity::active_high}, {0, 3, Trigger::edge, Polarity::active_high}};
    c.overrides = twice;
    refused(c, "two overrides");
    const InterruptOverride off_ioapic[] = {{0, 24, Trigger::edge, Polarity::active_high}};
    c.overrides = off_ioapic;
    refused(c, "GSI");

    const VirtioMmioDevice empty[] = {{0xd000'0000, 0, 5, Trigger::edge}};
    c = sample_config();
    c.virtio_devices = empty;
    refused(c, "empty");
    const VirtioMmioDevice high[] = {{0x1'0000'0000, 0x1000, 5, Trigger::edge}};
    c.virtio_devices = high;
    refused(c, "4 GiB");
    const VirtioMmioDevice straddle[] = {{0xffff'f800, 0x1000, 5, Trigger::edge}};
    c.virtio_devices = straddle;
    refused(c, "4 GiB");
    const VirtioMmioDevice overlap[] = {{0xd000'0000, 0x1000, 5, Trigger::edge}, {0xd000'0800, 0x1000, 6, Trigger::edge}};
    c.virtio_devices = overlap;
    refused(c, "overlap");
    const VirtioMmioDevice bad_gsi[] = {{0xd000'0000, 0x1000, 24, Trigger::edge}};
    c.virtio_devices = bad_gsi;
    refused(c, "GSI");
    c = sample_config();
    c.com1.gsi = 99;
    refused(c, "COM1");
    c.com1.present = false;  // an absent COM1's GSI does not matter
    CHECK(build_acpi_tables(c, region).ok());
    c = sample_config();
    c.rtc.gsi = 24;
    refused(c, "RTC");
    c.rtc.present = false;  // nor an absent RTC's
    CHECK(build_acpi_tables(c, region).ok());
}

TEST_CASE("guest acpi tables: the e820 range covers the tables in whole pages, type ACPI") {
    AcpiConfig config = sample_config();
    config.table_base = 0x9f010;
    Built b = build(config);
    guest_boot::linux_boot::MemoryRange range = acpi_memory_range(b.tables);
    CHECK(range.type == guest_boot::linux_boot::E820Type::acpi);
    CHECK(static_cast<std::uint32_t>(range.type) == 3);
    CHECK(range.start == 0x9f000);
    CHECK(range.size % 0x1000 == 0);
    CHECK(range.start + range.size >= b.tables.base + b.tables.size);
    CHECK(range.start + range.size - 0x1000 < b.tables.base + b.tables.size);
}

// ---- the oracle: ACPICA's iasl ---------------------------------------------------------------
