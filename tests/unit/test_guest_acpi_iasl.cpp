// An oracle for the guest's ACPI tables (guest-boot/acpi/guest_acpi.hpp): ACPICA's disassembler
// (Debian's acpica-tools, `iasl -d`) must read the DSDT, FADT, MADT and XSDT without errors and
// show the devices, ranges, interrupts, _S5, flags and registers; its disassembly of the DSDT must
// compile again (iasl) without errors, and its interpreter (acpiexec) must load and evaluate it.
#include <doctest/doctest.h>

#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "guest_acpi_fixture.hpp"

using namespace guest_acpi_test;

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
