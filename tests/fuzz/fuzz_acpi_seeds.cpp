// Writes the ACPI table fuzzer's seed corpus: memory images of sound tables (XSDT and RSDT walks,
// MCFGs with no, one and several regions, no MCFG at all), built with the unit tests' builder.
//   fuzz_acpi_seeds OUTPUT_DIR
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <vector>

#include "acpi_table_builder.hpp"

namespace fs = std::filesystem;
using test::AcpiImage;
using test::StandardTables;

namespace {

void write(const fs::path& path, const std::vector<std::uint8_t>& b) {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
    if (!out) throw std::runtime_error("cannot write " + path.string());
}

// The seeds need not be 4 KiB: the tables end before 0x400.
std::vector<std::uint8_t> trimmed(const StandardTables& t) { return t.image.slice(0, 0x400); }

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: fuzz_acpi_seeds OUTPUT_DIR\n";
        return 2;
    }
    try {
        fs::path out = argv[1];
        fs::create_directories(out);
        write(out / "xsdt_mcfg_q35", trimmed(StandardTables{}));
        write(out / "xsdt_mcfg_none", trimmed(StandardTables{{}}));
        write(out / "xsdt_mcfg_several",
              trimmed(StandardTables{{{0x40'0000'0000, 1, 0, 255}, {0xb000'0000, 0, 0x80, 0xff}, {0xb000'0000, 0, 0, 0x7f}}}));
        StandardTables rsdt;
        rsdt.image.put_rsdp(StandardTables::kRsdp, 0, static_cast<std::uint32_t>(rsdt.image.at(StandardTables::kRsdt)), 0);
        write(out / "rsdt_mcfg", trimmed(rsdt));
        StandardTables no_mcfg;
        no_mcfg.image.put_xsdt(StandardTables::kXsdt, {no_mcfg.image.at(StandardTables::kFacp)});
        write(out / "xsdt_no_mcfg", trimmed(no_mcfg));
        // A bare MCFG, for the direct parse.
        AcpiImage mcfg(0, 44 + 32);
        mcfg.put_mcfg(0, {{0xe000'0000, 0, 0, 63}, {0x1'0000'0000, 1, 0, 255}});
        write(out / "mcfg_only", mcfg.bytes());
    } catch (const std::exception& e) {
        std::cerr << "fuzz_acpi_seeds: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
