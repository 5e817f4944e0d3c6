// The guest's ACPI tables (guest-boot/acpi/guest_acpi.hpp): checksums of every table, field
// offsets and values, the pointer chain RSDP -> XSDT -> FADT -> DSDT / MADT inside the region,
// refusals (bad config, too small a region: nothing written), the e820 range. And an oracle:
// ACPICA's disassembler (Debian's acpica-tools, `iasl -d`) must read the DSDT, FADT, MADT and
// XSDT without errors and show the devices, ranges, interrupts, _S5, flags and registers; its
// disassembly of the DSDT must compile again (iasl) without errors.
#include <doctest/doctest.h>

#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "guest-boot/acpi/guest_acpi.hpp"
#include "guest-boot/acpi/table_layout.hpp"
#include "hypervisor/util/bytes.hpp"

using namespace tandem;
using namespace tandem::guest_boot::acpi;
using Bytes = std::vector<std::uint8_t>;

namespace {

constexpr std::uint64_t kBase = 0x000e'0000;

constexpr VirtioMmioDevice kDevices[] = {
    {0xd000'0000, 0x1000, 5, Trigger::edge},
    {0xd000'1000, 0x200, 17, Trigger::level},
};

AcpiConfig sample_config() {
    AcpiConfig c{};
    c.table_base = kBase;
    c.sleep_control_port = 0x3c0;
    c.sleep_status_port = 0x3c1;
    c.reset_port = 0x3c2;
    c.reset_value = 0x42;
    c.pm_timer_port = 0x608;
    c.virtio_devices = kDevices;
    c.com1.present = true;
    return c;
}

struct Built {
    Bytes region;
    AcpiTables tables;
    std::span<const std::uint8_t> at(std::uint64_t gpa, std::size_t n) const {
        REQUIRE(gpa >= tables.base);
        REQUIRE(gpa - tables.base + n <= region.size());
        return std::span<const std::uint8_t>{region}.subspan(gpa - tables.base, n);
    }
    // The table whose header is at gpa, by its length field.
    std::span<const std::uint8_t> table(std::uint64_t gpa) const {
        std::uint32_t length = load_le<std::uint32_t>(at(gpa, sizeof(SdtHeader)), 4);
        return at(gpa, length);
    }
};

Built build(const AcpiConfig& config, std::size_t capacity = 0x4000) {
    Built b;
    b.region.assign(capacity, 0xcc);
    Result<AcpiTables> r = build_acpi_tables(config, b.region);
    REQUIRE_MESSAGE(r.ok(), r.error().message);
    b.tables = *r;
    b.region.resize(b.tables.size);
    return b;
}

template <class T>
T le(std::span<const std::uint8_t> bytes, std::size_t offset) {
    return load_le<T>(bytes, offset);
}

std::string text(std::span<const std::uint8_t> bytes, std::size_t offset, std::size_t n) {
    return std::string(reinterpret_cast<const char*>(bytes.data() + offset), n);
}

bool contains(std::span<const std::uint8_t> hay, const Bytes& needle) {
    if (needle.size() > hay.size()) return false;
    for (std::size_t i = 0; i + needle.size() <= hay.size(); ++i) {
        if (std::memcmp(hay.data() + i, needle.data(), needle.size()) == 0) return true;
    }
    return false;
}

void check_header(std::span<const std::uint8_t> t, const char* signature, std::uint8_t revision) {
    CAPTURE(signature);
    CHECK(text(t, 0, 4) == signature);
    CHECK(le<std::uint32_t>(t, 4) == t.size());
    CHECK(t[8] == revision);
    CHECK(checksum_ok(t));
    CHECK(text(t, 10, 6) == "TANDEM");
    CHECK(text(t, 16, 8) == "TANDEMVM");
}

// Device (RTC) with the default RtcConfig, as AML: DeviceOp, PkgLength, "RTC_",
// Name(_HID, EisaId("PNP0B00")), Name(_CRS, Buffer(19) { IO(Decode16, 0x70, 0x70, 1, 2),
// Interrupt(ResourceConsumer, Edge, ActiveHigh, Exclusive){8}, End Tag with its checksum }).
const Bytes kRtcDevice = {
    0x5b, 0x82, 0x2b, 'R', 'T', 'C', '_',                                   //
    0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x0b, 0x00,                 //
    0x08, '_', 'C', 'R', 'S', 0x11, 0x16, 0x0a, 0x13,                       //
    0x47, 0x01, 0x70, 0x00, 0x70, 0x00, 0x01, 0x02,                         // IO (§6.4.2.5)
    0x89, 0x06, 0x00, 0x03, 0x01, 0x08, 0x00, 0x00, 0x00,                   // Interrupt (§6.4.3.6)
    0x79, 0xc1,                                                             // End Tag (§6.4.2.9)
};

std::string message_of(const Result<AcpiTables>& r) { return r.ok() ? std::string{} : std::string{r.error().message}; }

}  // namespace

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

namespace {

struct TempDir {
    std::filesystem::path path;
    TempDir() {
        std::string pattern = (std::filesystem::temp_directory_path() / "tandem-acpi-XXXXXX").string();
        REQUIRE(mkdtemp(pattern.data()) != nullptr);
        path = pattern;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
};

void write_file(const std::filesystem::path& p, std::span<const std::uint8_t> bytes) {
    std::ofstream out(p, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    REQUIRE(out.good());
}

std::string read_file(const std::filesystem::path& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

bool have_iasl() { return std::system("command -v iasl >/dev/null 2>&1") == 0; }

// Runs iasl with `args` in dir; returns its exit status, its output in `log`.
int run_iasl(const std::filesystem::path& dir, const std::string& args, std::string& log) {
    std::string cmd = "cd '" + dir.string() + "' && iasl " + args + " > iasl.log 2>&1";
    int status = std::system(cmd.c_str());
    log = read_file(dir / "iasl.log");
    return status;
}

// Disassembles one table file; returns the .dsl text, checking iasl reported no error.
std::string disassemble(const std::filesystem::path& dir, const char* name, std::span<const std::uint8_t> table) {
    CAPTURE(name);
    write_file(dir / (std::string(name) + ".dat"), table);
    std::string log;
    int status = run_iasl(dir, std::string("-d ") + name + ".dat", log);
    CAPTURE(log);
    CHECK(status == 0);
    CHECK(log.find("Error") == std::string::npos);
    CHECK(log.find("Warning") == std::string::npos);
    std::string dsl = read_file(dir / (std::string(name) + ".dsl"));
    CHECK_FALSE(dsl.empty());
    return dsl;
}

bool has(const std::string& text, const std::string& needle) { return text.find(needle) != std::string::npos; }

// The value iasl prints for `name` ("[off len]   Name : value"), from the first such line after
// `after`: field widths vary, so it is looked up by name rather than matched as a whole line.
std::string field(const std::string& text, const std::string& name, const std::string& after = {}) {
    std::size_t from = after.empty() ? 0 : text.find(after);
    if (from == std::string::npos) return "<no " + after + ">";
    std::size_t at = text.find(" " + name + " : ", from);
    if (at == std::string::npos) return "<no " + name + ">";
    std::size_t value = at + name.size() + 4;
    std::size_t end = text.find('\n', value);
    std::string v = text.substr(value, end - value);
    while (!v.empty() && v.back() == ' ') v.pop_back();
    return v;
}

std::string hex16(std::uint64_t v) {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llX", static_cast<unsigned long long>(v));
    return buf;
}

}  // namespace

TEST_CASE("guest acpi tables: iasl (ACPICA) disassembles them without errors") {
    if (!have_iasl()) {
        FAIL("iasl not found: install Debian's acpica-tools (tools/require-packages.sh, TANDEM_TEST_PACKAGES)");
        return;
    }
    Built b = build(sample_config());
    TempDir dir;

    std::string dsdt = disassemble(dir.path, "dsdt", b.table(b.tables.dsdt));
    CAPTURE(dsdt);
    CHECK(has(dsdt, "DefinitionBlock (\"\", \"DSDT\", 2, \"TANDEM\", \"TANDEMVM\", 0x00000001)"));
    CHECK(has(dsdt, "Name (_S5, Package (0x04)"));
    CHECK(has(dsdt, "0x05, \n        Zero, \n        Zero, \n        Zero\n    })"));
    CHECK(has(dsdt, "Scope (\\_SB)"));
    CHECK(has(dsdt, "Device (COM1)"));
    CHECK(has(dsdt, "Name (_HID, EisaId (\"PNP0501\")"));
    CHECK(has(dsdt, "IO (Decode16,\n                    0x03F8,"));
    CHECK(has(dsdt, "Device (RTC)"));
    CHECK(has(dsdt, "Name (_HID, EisaId (\"PNP0B00\")"));
    CHECK(has(dsdt, "IO (Decode16,\n                    0x0070,             // Range Minimum\n"
                    "                    0x0070,             // Range Maximum\n"
                    "                    0x01,               // Alignment\n"
                    "                    0x02,               // Length\n"
                    "                    )\n"
                    "                Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive, ,, )\n"
                    "                {\n"
                    "                    0x00000008,"));
    CHECK(has(dsdt, "Device (VR00)"));
    CHECK(has(dsdt, "Device (VR01)"));
    CHECK(has(dsdt, "Name (_HID, \"LNRO0005\")"));
    CHECK(has(dsdt, "Name (_UID, One)"));
    CHECK(has(dsdt, "Name (_CCA, One)"));
    CHECK(has(dsdt, "Memory32Fixed (ReadWrite,\n                    0xD0000000,         // Address Base\n"
                    "                    0x00001000,"));
    CHECK(has(dsdt, "Memory32Fixed (ReadWrite,\n                    0xD0001000,         // Address Base\n"
                    "                    0x00000200,"));
    CHECK(has(dsdt, "Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive, ,, )\n                {\n"
                    "                    0x00000004,"));
    CHECK(has(dsdt, "Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive, ,, )\n                {\n"
                    "                    0x00000005,"));
    CHECK(has(dsdt, "Interrupt (ResourceConsumer, Level, ActiveHigh, Exclusive, ,, )\n                {\n"
                    "                    0x00000011,"));

    // The disassembly compiles back without errors.
    std::string log;
    CHECK(run_iasl(dir.path, "-p recompiled dsdt.dsl", log) == 0);
    CHECK_MESSAGE(has(log, " 0 Errors"), log);

    std::string fadt = disassemble(dir.path, "facp", b.table(b.tables.fadt));
    CAPTURE(fadt);
    CHECK(field(fadt, "Revision") == "06");
    CHECK(field(fadt, "FADT Minor Revision") == "05");
    CHECK(field(fadt, "Hardware Reduced (V5)") == "1");
    CHECK(field(fadt, "Reset Register Supported (V2)") == "1");
    CHECK(field(fadt, "VGA Not Present (V4)") == "1");
    CHECK(field(fadt, "MSI Not Supported (V4)") == "1");
    CHECK(field(fadt, "8042 Present on ports 60/64 (V2)") == "0");
    CHECK(field(fadt, "CMOS RTC Not Present (V5)") == "0");
    CHECK(field(fadt, "DSDT Address", "FADT Minor Revision") == hex16(b.tables.dsdt));  // X_DSDT
    CHECK(field(fadt, "Space ID", "Reset Register") == "01 [SystemIO]");
    CHECK(field(fadt, "Bit Width", "Reset Register") == "08");
    CHECK(field(fadt, "Address", "Reset Register") == "00000000000003C2");
    CHECK(field(fadt, "Value to cause reset") == "42");
    CHECK(field(fadt, "Space ID", "Sleep Control Register") == "01 [SystemIO]");
    CHECK(field(fadt, "Bit Width", "Sleep Control Register") == "08");
    CHECK(field(fadt, "Address", "Sleep Control Register") == "00000000000003C0");
    CHECK(field(fadt, "Address", "Sleep Status Register") == "00000000000003C1");
    CHECK(field(fadt, "PM Timer Block Address") == "00000608");
    CHECK(field(fadt, "PM Timer Block Length") == "04");
    CHECK(field(fadt, "Space ID", "PM Timer Block :") == "01 [SystemIO]");
    CHECK(field(fadt, "Bit Width", "PM Timer Block :") == "20");
    CHECK(field(fadt, "Address", "PM Timer Block :") == "0000000000000608");
    // iasl 20200925 prints the vendor id as a little-endian UINT64, later versions as a string.
    std::string vendor = field(fadt, "Hypervisor ID");
    CHECK((vendor == "20204D45444E4154" || vendor == "\"TANDEM  \""));

    std::string madt = disassemble(dir.path, "apic", b.table(b.tables.madt));
    CAPTURE(madt);
    CHECK(field(madt, "Local Apic Address") == "FEE00000");
    CHECK(field(madt, "PC-AT Compatibility") == "1");
    CHECK(field(madt, "Local Apic ID", "[Processor Local APIC]") == "00");
    CHECK(field(madt, "Processor Enabled") == "1");
    CHECK(field(madt, "Address", "[I/O APIC]") == "FEC00000");
    CHECK(field(madt, "Interrupt", "[I/O APIC]") == "00000000");
    CHECK(field(madt, "Source", "[Interrupt Source Override]") == "00");
    CHECK(field(madt, "Interrupt", "[Interrupt Source Override]") == "00000002");
    CHECK(field(madt, "Trigger Mode", "[Interrupt Source Override]") == "1");
    CHECK(field(madt, "Source", "Source : 00") == "09");
    CHECK(field(madt, "Trigger Mode", "Source : 09") == "3");
    CHECK(field(madt, "Polarity", "Source : 09") == "1");

    std::string xsdt = disassemble(dir.path, "xsdt", b.table(b.tables.xsdt));
    CAPTURE(xsdt);
    CHECK(field(xsdt, "ACPI Table Address   0") == hex16(b.tables.fadt));
    CHECK(field(xsdt, "ACPI Table Address   1") == hex16(b.tables.madt));

    // ACPICA's interpreter (acpiexec, the code Linux's ACPI core runs) loads the namespace and
    // decodes _CRS as Linux's acpi_walk_resources would (pnpacpi, for the RTC).
    std::string exec;
    CHECK(std::system(("cd '" + dir.path.string() +
                       "' && acpiexec -b 'Evaluate \\_S5; Resources \\_SB.VR01; Evaluate \\_SB.VR00._HID; "
                       "Resources \\_SB.RTC; Evaluate \\_SB.RTC._HID' "
                       "dsdt.dat facp.dat apic.dat > acpiexec.log 2>&1")
                          .c_str()) == 0);
    exec = read_file(dir.path / "acpiexec.log");
    CAPTURE(exec);
    CHECK(has(exec, "1 ACPI AML tables successfully acquired and loaded"));
    CHECK(has(exec, "Contains 4 Elements:\n    [Integer] = 0000000000000005\n    [Integer] = 0000000000000000"));
    CHECK(field(exec, "Address", "32-Bit Fixed Memory Range Resource") == "D0001000");
    CHECK(field(exec, "Address Length", "32-Bit Fixed Memory Range Resource") == "00000200");
    CHECK(field(exec, "Triggering", "Extended IRQ Resource") == "Level");
    CHECK(field(exec, "Polarity", "Extended IRQ Resource") == "ActiveHigh");
    CHECK(field(exec, "Dword00", "Extended IRQ Resource") == "00000011");
    CHECK(has(exec, "\"LNRO0005\""));
    // The RTC: ports 0x70-0x71 and GSI 8, edge/high; its _HID is the EISA id as an integer.
    CHECK(field(exec, "Address Minimum", "Device: \\_SB.RTC") == "0070");
    CHECK(field(exec, "Address Maximum", "Device: \\_SB.RTC") == "0070");
    CHECK(field(exec, "Address Length", "Device: \\_SB.RTC") == "02");
    CHECK(field(exec, "Triggering", "Device: \\_SB.RTC") == "Edge");
    CHECK(field(exec, "Polarity", "Device: \\_SB.RTC") == "ActiveHigh");
    CHECK(field(exec, "Dword00", "Device: \\_SB.RTC") == "00000008");
    CHECK(has(exec, "Evaluating \\_SB.RTC._HID"));
    CHECK(has(exec, "[Integer] = 00000000000BD041"));  // EisaId ("PNP0B00")
    CHECK_FALSE(has(exec, "AE_AML"));
}
