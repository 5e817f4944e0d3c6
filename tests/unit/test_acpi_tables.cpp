// The ACPI table walk over synthetic tables in a fake physical memory: the RSDP (a boot loader's
// copy or found in the BIOS areas), the XSDT or RSDT, finding a table by signature, the MCFG
// parser, and the PCI access plan with its console report. Each malformed case breaks one thing.
#include <doctest/doctest.h>

#include <string>

#include "acpi_table_builder.hpp"
#include "arch-x86_64/acpi/mcfg.hpp"
#include "arch-x86_64/acpi/pci_access_plan.hpp"
#include "arch-x86_64/acpi/rsdp.hpp"
#include "arch-x86_64/acpi/rsdp_scan.hpp"
#include "arch-x86_64/acpi/table_ranges.hpp"
#include "arch-x86_64/acpi/tables.hpp"
#include "arch-x86_64/boot/multiboot2.hpp"
#include "fake_physical_memory.hpp"
#include "helpers.hpp"

using namespace tandem;
using namespace tandem::acpi;
using test::AcpiImage;
using test::FakePhysicalMemory;
using test::StandardTables;
using test::message;

namespace {

FakePhysicalMemory memory_of(const AcpiImage& image) { return FakePhysicalMemory(image.base(), image.bytes()); }

std::string report(const PciAccessPlan& plan) {
    test::StringWriter w;
    report_pci_access(w, plan);
    return w.str();
}

PciAccessPlan plan_for(const StandardTables& t) {
    FakePhysicalMemory memory = memory_of(t.image);
    auto rsdp = t.rsdp();
    return plan_pci_access(memory, rsdp);
}

}  // namespace

// --- RSDP -------------------------------------------------------------------------------------

TEST_CASE("acpi: an ACPI 1.0 RSDP of exactly 20 bytes (GRUB's tag 14 copy) parses") {
    AcpiImage image(0, 64);
    image.put_rsdp(0, 0, 0x0fff0000, 0);
    auto rsdp = parse_rsdp(image.slice(0, 20));
    REQUIRE(rsdp.ok());
    CHECK(rsdp->revision == 0);
    CHECK(rsdp->rsdt_address == 0x0fff0000);
    CHECK(rsdp->xsdt_address == 0);
    CHECK(rsdp->length == 20);
    CHECK(std::string(rsdp->oem_id, 6) == "BOCHS ");
}

TEST_CASE("acpi: the RSDP GRUB passed on a real Bochs boot parses") {
    std::vector<std::uint8_t> block = test::read_hex_fixture("mbi_grub_bochs.hex");
    static boot::BootInfo info;
    REQUIRE(boot::parse_multiboot2(block, 0x10000, info).ok());
    auto rsdp = parse_rsdp(info.acpi_rsdp);
    REQUIRE(rsdp.ok());
    CHECK(rsdp->rsdt_address >= 0x0fff0000);  // in the ACPI range of Bochs' memory map
    CHECK(rsdp->rsdt_address < 0x10000000);
}

TEST_CASE("acpi: an ACPI 2.0 RSDP parses with its XSDT address") {
    StandardTables t;
    auto rsdp = parse_rsdp(t.rsdp());
    REQUIRE(rsdp.ok());
    CHECK(rsdp->revision == 2);
    CHECK(rsdp->xsdt_address == t.image.at(StandardTables::kXsdt));
    CHECK(rsdp->length == 36);
}

TEST_CASE("acpi: malformed RSDPs are refused with a reason") {
    StandardTables t;
    std::vector<std::uint8_t> r = t.rsdp();
    SUBCASE("too short") { CHECK(message(parse_rsdp(std::span(r).first(19)).error()) == "the RSDP is shorter than 20 bytes"); }
    SUBCASE("signature") {
        r[0] = 'X';
        CHECK(message(parse_rsdp(r).error()) == "the RSDP signature is not \"RSD PTR \"");
    }
    SUBCASE("first checksum") {
        r[16] ^= 1;  // the RSDT address, under both checksums
        CHECK(message(parse_rsdp(r).error()) == "the RSDP checksum (bytes 0-19) does not sum to zero");
    }
    SUBCASE("extended checksum") {
        r[24] ^= 1;  // the XSDT address, under the extended checksum only
        CHECK(message(parse_rsdp(r).error()) == "the RSDP extended checksum does not sum to zero");
    }
    SUBCASE("2.0 copy truncated") {
        CHECK(message(parse_rsdp(std::span(r).first(30)).error()) == "the ACPI 2.0+ RSDP is shorter than 36 bytes");
    }
    SUBCASE("length field below 36") {
        AcpiImage image(0, 64);
        image.put_rsdp(0, 2, 0x1000, 0x2000);
        image.put32(20, 20);
        CHECK(message(parse_rsdp(image.slice(0, 36)).error()) == "the RSDP length field is below 36");
    }
    SUBCASE("length field past the copy") {
        AcpiImage image(0, 64);
        image.put_rsdp(0, 2, 0x1000, 0x2000);
        image.put32(20, 40);
        CHECK(message(parse_rsdp(image.slice(0, 36)).error()) == "the RSDP length field runs past the bytes given");
    }
    SUBCASE("ACPI 1.0 without an RSDT") {
        AcpiImage image(0, 64);
        image.put_rsdp(0, 0, 0, 0);
        CHECK(message(parse_rsdp(image.slice(0, 20)).error()) == "the ACPI 1.0 RSDP gives no RSDT address");
    }
}

TEST_CASE("acpi: the RSDP search in the BIOS area skips broken copies") {
    FakePhysicalMemory memory(kBiosAreaStart, kBiosAreaEnd - kBiosAreaStart);
    AcpiImage image(kBiosAreaStart, kBiosAreaEnd - kBiosAreaStart);
    image.put_rsdp(0x15a30, 0, 0xe1000, 0);  // a stray copy with a broken checksum first
    image.put8(0x15a30 + 8, static_cast<std::uint8_t>(image.get8(0x15a30 + 8) + 1));
    image.put_rsdp(0x15a40, 0, 0xe1000, 0);
    FakePhysicalMemory bios = memory_of(image);
    auto found = find_rsdp_in_bios_areas(bios);
    REQUIRE(found.ok());
    CHECK(found->address == 0xf5a40);
    CHECK(found->bytes.size() == 20);
    CHECK(message(find_rsdp_in_bios_areas(memory).error()) ==
          "no valid RSDP in the EBDA or in the BIOS area 0xe0000-0xfffff");
}

TEST_CASE("acpi: the RSDP search looks in the first KiB of the EBDA") {
    AcpiImage image(0x400, 0x9f000 - 0x400 + 0x1000);  // BDA up to the end of the EBDA at 0x9fc00
    image.put16(0x40e - 0x400, 0x9fc0);
    image.put_rsdp(0x9fc10 - 0x400, 0, 0x9fe00, 0);
    FakePhysicalMemory memory = memory_of(image);
    auto found = find_rsdp_in_bios_areas(memory);
    REQUIRE(found.ok());
    CHECK(found->address == 0x9fc10);
}

// --- The root table and finding tables ------------------------------------------------------------

TEST_CASE("acpi: an ACPI 2.0 RSDP leads to the XSDT, which lists the MCFG") {
    StandardTables t;
    FakePhysicalMemory memory = memory_of(t.image);
    auto rsdp = parse_rsdp(t.rsdp());
    REQUIRE(rsdp.ok());
    auto root = read_root_table(memory, *rsdp);
    REQUIRE(root.ok());
    CHECK(root->extended);
    CHECK(root->name() == "XSDT");
    REQUIRE(root->entry_count() == 2);
    CHECK(root->entry(0) == t.image.at(StandardTables::kFacp));  // entries only 4-byte aligned
    CHECK(root->entry(1) == t.image.at(StandardTables::kMcfg));

    auto mcfg = find_table(memory, *root, "MCFG");
    REQUIRE(mcfg.ok());
    CHECK(mcfg->found);
    CHECK(mcfg->address == t.image.at(StandardTables::kMcfg));
    auto table = read_table(memory, mcfg->address, "MCFG");
    REQUIRE(table.ok());
    CHECK(table->bytes.size() == 44 + 16);
    CHECK(table->header.length == 60);

    auto apic = find_table(memory, *root, "APIC");
    REQUIRE(apic.ok());
    CHECK_FALSE(apic->found);
}

TEST_CASE("acpi: ACPI 1.0 (and a 2.0 RSDP without an XSDT) use the RSDT") {
    StandardTables t;
    SUBCASE("revision 0") { t.image.put_rsdp(0, 0, static_cast<std::uint32_t>(t.image.at(StandardTables::kRsdt)), 0); }
    SUBCASE("revision 2, XSDT address 0") {
        t.image.put_rsdp(0, 2, static_cast<std::uint32_t>(t.image.at(StandardTables::kRsdt)), 0);
    }
    FakePhysicalMemory memory = memory_of(t.image);
    auto rsdp = parse_rsdp(t.image.slice(0, 36));
    REQUIRE(rsdp.ok());
    auto root = read_root_table(memory, *rsdp);
    REQUIRE(root.ok());
    CHECK_FALSE(root->extended);
    CHECK(root->name() == "RSDT");
    REQUIRE(root->entry_count() == 2);
    CHECK(root->entry(1) == t.image.at(StandardTables::kMcfg));
    auto mcfg = find_table(memory, *root, "MCFG");
    REQUIRE(mcfg.ok());
    CHECK(mcfg->found);

    PciAccessPlan plan = plan_pci_access(memory, t.image.slice(0, 36));
    CHECK(plan.mechanism == PciAccessPlan::Mechanism::ecam);
    CHECK_FALSE(plan.root_extended);
}

TEST_CASE("acpi: null root-table entries are skipped") {
    StandardTables t;
    t.image.put_xsdt(StandardTables::kXsdt, {0, t.image.at(StandardTables::kMcfg)});
    FakePhysicalMemory memory = memory_of(t.image);
    auto root = read_root_table(memory, *parse_rsdp(t.rsdp()));
    REQUIRE(root.ok());
    auto mcfg = find_table(memory, *root, "MCFG");
    REQUIRE(mcfg.ok());
    CHECK(mcfg->found);
}

TEST_CASE("acpi: a malformed root table is refused with a reason") {
    StandardTables t;
    constexpr std::size_t x = StandardTables::kXsdt;
    std::string expected;
    SUBCASE("bad checksum") {
        t.image.put8(x + 40, static_cast<std::uint8_t>(t.image.get8(x + 40) ^ 0x10));
        expected = "the table's bytes do not sum to zero (bad checksum)";
    }
    SUBCASE("length below the header") {
        t.image.put32(x + 4, 30);
        t.image.fix_table_checksum(x);  // fix_table_checksum sums `length` bytes: still consistent
        expected = "the table's length is below its 36-byte header";
    }
    SUBCASE("length beyond 64 KiB") {
        t.image.put32(x + 4, 0x20000);
        expected = "the table's length is beyond 64 KiB";
    }
    SUBCASE("length runs past readable memory") {
        t.image.put32(x + 4, 0x1000);
        expected = "the table runs past readable memory";
    }
    SUBCASE("length leaves a partial entry") {
        t.image.put32(x + 4, 36 + 8 + 4);
        t.image.fix_table_checksum(x);
        expected = "the root table's length leaves a partial entry";
    }
    SUBCASE("wrong signature") {
        t.image.put8(x, 'Y');
        t.image.fix_table_checksum(x);
        expected = "the table at this address does not carry the expected signature";
    }
    SUBCASE("XSDT address out of range") {
        t.image.put_rsdp(0, 2, static_cast<std::uint32_t>(t.image.at(StandardTables::kRsdt)), 0x1'0000'0000ull);
        expected = "the table's header lies outside readable memory";
    }
    SUBCASE("XSDT header straddles the end of memory") {
        t.image.put_rsdp(0, 2, static_cast<std::uint32_t>(t.image.at(StandardTables::kRsdt)), t.image.at(0x1000 - 20));
        expected = "the table's header lies outside readable memory";
    }
    FakePhysicalMemory memory = memory_of(t.image);
    auto rsdp = parse_rsdp(t.image.slice(0, 36));
    REQUIRE(rsdp.ok());
    auto root = read_root_table(memory, *rsdp);
    REQUIRE_FALSE(root.ok());
    CHECK(message(root.error()) == expected);

    PciAccessPlan plan = plan_pci_access(memory, t.image.slice(0, 36));
    CHECK(plan.mechanism == PciAccessPlan::Mechanism::mechanism1);
    REQUIRE(plan.malformed != nullptr);
    CHECK(std::string(plan.malformed) == "XSDT");
    std::string text = report(plan);
    CHECK(text.find("acpi: the XSDT is malformed: " + expected) != std::string::npos);
    CHECK(text.find("pci: configuration mechanism #1 (the ACPI tables are malformed: ECAM not trusted)\n") !=
          std::string::npos);
}

TEST_CASE("acpi: a root-table entry pointing outside readable memory is refused") {
    StandardTables t;
    t.image.put_xsdt(StandardTables::kXsdt, {t.image.at(StandardTables::kFacp), 0xfee0'0000});
    FakePhysicalMemory memory = memory_of(t.image);
    auto root = read_root_table(memory, *parse_rsdp(t.rsdp()));
    REQUIRE(root.ok());
    auto mcfg = find_table(memory, *root, "MCFG");
    REQUIRE_FALSE(mcfg.ok());
    CHECK(message(mcfg.error()) == "an entry of the root table points outside readable memory");
    CHECK(mcfg.error().value == 0xfee0'0000);

    PciAccessPlan plan = plan_pci_access(memory, t.rsdp());
    REQUIRE(plan.malformed != nullptr);
    CHECK(std::string(plan.malformed) == "XSDT");
    CHECK(report(plan).find("acpi: the XSDT is malformed: an entry of the root table points outside readable memory "
                            "(0xfee00000)") != std::string::npos);
}

// --- MCFG ----------------------------------------------------------------------------------------

TEST_CASE("acpi: MCFG with no, one and several regions") {
    AcpiImage image(0x1000, 0x1000);
    SUBCASE("none") {
        image.put_mcfg(0, {});
        auto mcfg = parse_mcfg(image.slice(0, 44));
        REQUIRE(mcfg.ok());
        CHECK(mcfg->listed == 0);
        CHECK(mcfg->segment0_from_bus0() == nullptr);
    }
    SUBCASE("one") {
        image.put_mcfg(0, {{0xe000'0000, 0, 0, 63}});
        auto mcfg = parse_mcfg(image.slice(0, 60));
        REQUIRE(mcfg.ok());
        REQUIRE(mcfg->listed == 1);
        const EcamRegion* r = mcfg->segment0_from_bus0();
        REQUIRE(r != nullptr);
        CHECK(r->first_byte() == 0xe000'0000);
        CHECK(r->size() == 64ull << 20);
    }
    SUBCASE("several: the segment-0 one from bus 0 is chosen") {
        image.put_mcfg(0, {{0x40'0000'0000, 1, 0, 255}, {0xb000'0000, 0, 0x80, 0xff}, {0xb000'0000, 0, 0, 0x7f}});
        auto mcfg = parse_mcfg(image.slice(0, 44 + 48));
        REQUIRE(mcfg.ok());
        CHECK(mcfg->listed == 3);
        CHECK(mcfg->stored == 3);
        CHECK(mcfg->regions[1].first_byte() == 0xb800'0000);  // base is where bus 0 would be
        CHECK(mcfg->regions[1].size() == 128ull << 20);
        const EcamRegion* r = mcfg->segment0_from_bus0();
        REQUIRE(r != nullptr);
        CHECK(r == &mcfg->regions[2]);
    }
    SUBCASE("more than are stored") {
        std::vector<AcpiImage::Region> regions;
        for (std::uint16_t s = 0; s < 20; ++s) regions.push_back({0x1'0000'0000ull * (s + 1), s, 0, 255});
        image.put_mcfg(0, regions);
        auto mcfg = parse_mcfg(image.slice(0, 44 + 20 * 16));
        REQUIRE(mcfg.ok());
        CHECK(mcfg->listed == 20);
        CHECK(mcfg->stored == kMaxEcamRegions);
    }
}

TEST_CASE("acpi: malformed MCFGs are refused with a reason") {
    AcpiImage image(0x1000, 0x1000);
    image.put_mcfg(0, {{0xb000'0000, 0, 0, 255}});
    std::size_t size = 60;
    std::string expected;
    SUBCASE("shorter than the header") {
        size = 43;
        expected = "the MCFG is shorter than its 44-byte header";
    }
    SUBCASE("signature") {
        image.put8(0, 'N');
        image.fix_table_checksum(0);
        expected = "the table's signature is not \"MCFG\"";
    }
    SUBCASE("length field below 44") {
        image.put32(4, 40);
        expected = "the MCFG length field is below 44";
    }
    SUBCASE("length field past the table") {
        image.put32(4, 76);
        expected = "the MCFG length field runs past the table";
    }
    SUBCASE("checksum") {
        image.put8(50, 1);
        expected = "the MCFG's bytes do not sum to zero (bad checksum)";
    }
    SUBCASE("partial allocation") {
        image.put32(4, 56);
        image.fix_table_checksum(0);
        expected = "the MCFG length leaves a partial allocation structure";
    }
    SUBCASE("start bus above end bus") {
        image.put_mcfg(0, {{0xb000'0000, 0, 5, 4}});
        expected = "an MCFG region's start bus is above its end bus";
    }
    SUBCASE("base not 1 MiB-aligned") {
        image.put_mcfg(0, {{0xb000'1000, 0, 0, 255}});
        expected = "an MCFG region's base address is not 1 MiB-aligned";
    }
    SUBCASE("beyond 52 bits") {
        image.put_mcfg(0, {{0xf'ffff'f800'0000ull, 0, 0, 255}});  // its last bus ends past 2^52
        expected = "an MCFG region lies beyond the 52-bit physical address space";
    }
    SUBCASE("base near 2^64") {
        image.put_mcfg(0, {{0xffff'ffff'fff0'0000ull, 0, 0, 255}});
        expected = "an MCFG region lies beyond the 52-bit physical address space";
    }
    auto mcfg = parse_mcfg(image.slice(0, size));
    REQUIRE_FALSE(mcfg.ok());
    CHECK(message(mcfg.error()) == expected);
}

// --- The PCI access plan and its report -----------------------------------------------------

TEST_CASE("acpi: an MCFG with a segment-0 region means ECAM") {
    StandardTables t;
    PciAccessPlan plan = plan_for(t);
    REQUIRE(plan.mechanism == PciAccessPlan::Mechanism::ecam);
    CHECK(plan.malformed == nullptr);
    CHECK(plan.ecam.first_byte() == 0xb000'0000);
    CHECK(plan.ecam.end_bus == 255);
    CHECK(report(plan) ==
          "acpi: RSDP revision 2 \"BOCHS \" from the boot loader; XSDT at 0x7fe0040 lists 2 tables; MCFG at 0x7fe0300\n"
          "pci: ECAM at 0xb0000000 buses 0-255 (ACPI MCFG)\n");
}

TEST_CASE("acpi: ECAM regions of other segments are reported, not used") {
    StandardTables t({{0x40'0000'0000, 1, 0, 255}, {0xb000'0000, 0, 0, 255}});
    PciAccessPlan plan = plan_for(t);
    REQUIRE(plan.mechanism == PciAccessPlan::Mechanism::ecam);
    std::string text = report(plan);
    CHECK(text.find("pci: ECAM region of segment 1 at 0x4000000000 buses 0-255 not used (tandem enumerates segment 0 "
                    "from bus 0 only)\n") != std::string::npos);
    CHECK(text.find("pci: ECAM at 0xb0000000 buses 0-255 (ACPI MCFG)\n") != std::string::npos);
}

TEST_CASE("acpi: without a usable MCFG region, mechanism #1 and why") {
    std::string reason;
    std::vector<AcpiImage::Region> regions;
    SUBCASE("no region") { reason = "the ACPI MCFG table lists no ECAM region"; }
    SUBCASE("only other segments") {
        regions = {{0x40'0000'0000, 1, 0, 255}};
        reason = "the ACPI MCFG table has no segment-0 region from bus 0";
    }
    SUBCASE("segment 0 from bus 1 only") {
        regions = {{0xb000'0000, 0, 1, 255}};
        reason = "the ACPI MCFG table has no segment-0 region from bus 0";
    }
    StandardTables t(regions);
    PciAccessPlan plan = plan_for(t);
    CHECK(plan.mechanism == PciAccessPlan::Mechanism::mechanism1);
    CHECK(plan.malformed == nullptr);
    CHECK(report(plan).find("pci: configuration mechanism #1 (" + reason + ")\n") != std::string::npos);
}

TEST_CASE("acpi: no MCFG table means mechanism #1") {
    StandardTables t;
    t.image.put_xsdt(StandardTables::kXsdt, {t.image.at(StandardTables::kFacp)});
    PciAccessPlan plan = plan_for(t);
    CHECK(plan.mechanism == PciAccessPlan::Mechanism::mechanism1);
    CHECK(plan.malformed == nullptr);
    CHECK(report(plan) ==
          "acpi: RSDP revision 2 \"BOCHS \" from the boot loader; XSDT at 0x7fe0040 lists 1 tables; no MCFG\n"
          "pci: configuration mechanism #1 (no ACPI MCFG table)\n");
}

TEST_CASE("acpi: a malformed MCFG is named, then mechanism #1") {
    StandardTables t;
    SUBCASE("bad checksum") { t.image.put8(StandardTables::kMcfg + 50, 0x7); }
    SUBCASE("truncated in memory") { t.image.put32(StandardTables::kMcfg + 4, 0x2000); }
    PciAccessPlan plan = plan_for(t);
    CHECK(plan.mechanism == PciAccessPlan::Mechanism::mechanism1);
    REQUIRE(plan.malformed != nullptr);
    CHECK(std::string(plan.malformed) == "MCFG");
    std::string text = report(plan);
    CHECK(text.find("; MCFG at 0x7fe0300\nacpi: the MCFG is malformed: the table") != std::string::npos);
    CHECK(text.find("pci: configuration mechanism #1 (the ACPI tables are malformed: ECAM not trusted)\n") !=
          std::string::npos);
}

TEST_CASE("acpi: a malformed RSDP copy is named, then mechanism #1") {
    StandardTables t;
    std::vector<std::uint8_t> rsdp = t.rsdp();
    rsdp[3] = 'X';
    FakePhysicalMemory memory = memory_of(t.image);
    PciAccessPlan plan = plan_pci_access(memory, rsdp);
    CHECK(plan.mechanism == PciAccessPlan::Mechanism::mechanism1);
    CHECK(report(plan) ==
          "acpi: the RSDP is malformed: the RSDP signature is not \"RSD PTR \"\n"
          "pci: configuration mechanism #1 (the ACPI tables are malformed: ECAM not trusted)\n");
}

TEST_CASE("acpi: without the loader's copy, the RSDP is searched for in the BIOS area") {
    // Bochs-like: an ACPI 1.0 RSDP in the BIOS ROM area, an RSDT without MCFG.
    AcpiImage image(kBiosAreaStart, kBiosAreaEnd - kBiosAreaStart);
    image.put_table(0x1100, "FACP", std::vector<std::uint8_t>(80, 0));
    image.put_rsdt(0x1000, {static_cast<std::uint32_t>(image.at(0x1100))});
    image.put_rsdp(0x15a40, 0, static_cast<std::uint32_t>(image.at(0x1000)), 0);
    FakePhysicalMemory memory = memory_of(image);
    PciAccessPlan plan = plan_pci_access(memory, {});
    CHECK(plan.rsdp_source == PciAccessPlan::RsdpSource::bios_area);
    CHECK(plan.mechanism == PciAccessPlan::Mechanism::mechanism1);
    CHECK(report(plan) ==
          "acpi: RSDP revision 0 \"BOCHS \" at 0xf5a40 (BIOS area); RSDT at 0xe1000 lists 1 tables; no MCFG\n"
          "pci: configuration mechanism #1 (no ACPI MCFG table)\n");

    FakePhysicalMemory nothing(0x100000, 0x1000);
    PciAccessPlan none = plan_pci_access(nothing, {});
    CHECK(none.mechanism == PciAccessPlan::Mechanism::mechanism1);
    CHECK(report(none) ==
          "acpi: no RSDP (the boot loader passed none and the BIOS areas hold none)\n"
          "pci: configuration mechanism #1 (no ACPI RSDP)\n");
}

TEST_CASE("acpi: unprintable OEM ids do not reach the console raw") {
    StandardTables t;
    t.image.put_rsdp(0, 2, static_cast<std::uint32_t>(t.image.at(StandardTables::kRsdt)), t.image.at(StandardTables::kXsdt));
    std::vector<std::uint8_t> rsdp = t.rsdp();
    rsdp[9] = 0x1b;   // ESC
    rsdp[8] = static_cast<std::uint8_t>(rsdp[8] - 0x1b + 'B');  // keeps both checksums (byte 8 is under both)
    FakePhysicalMemory memory = memory_of(t.image);
    PciAccessPlan plan = plan_pci_access(memory, rsdp);
    REQUIRE(plan.malformed == nullptr);
    CHECK(report(plan).find("\"?OCHS \"") != std::string::npos);
}

TEST_CASE("acpi: tables are read only where the memory map or the legacy areas may hold them") {
    // QEMU q35's map: tables in the reserved range at the top of RAM, ECAM reserved further up.
    const boot::MemoryRegion map[] = {
        {0x0, 0x9fc00, 1}, {0x9fc00, 0x400, 2}, {0xf0000, 0x10000, 2}, {0x100000, 0xfedf000, 1},
        {0xffdf000, 0x21000, 2}, {0xb0000000, 0x10000000, 2}, {0xfd'0000'0000, 0x3'0000'0000, 2},
    };
    CHECK(may_hold_tables(map, 0xffe22e1, 0xffe22e1 + 0x34));
    CHECK(may_hold_tables(map, 0xffde000, 0xffe0000));  // across available and reserved
    CHECK(may_hold_tables(map, 0xe0000, 0x100000));     // the BIOS area, partly unlisted
    CHECK(may_hold_tables(map, 0x9fc00, 0x9fc00 + 1024));
    CHECK_FALSE(may_hold_tables(map, 0xfee00000, 0xfee00100));  // the local APIC: a hole
    CHECK_FALSE(may_hold_tables(map, 0xffff000, 0x10001000));   // runs off the end of RAM
    CHECK_FALSE(may_hold_tables(map, 0xa0000, 0xa0100));        // VGA memory
    CHECK_FALSE(may_hold_tables(map, 0x1000, 0x1000));          // empty
    const boot::MemoryRegion to_the_top[] = {{0xffff'ffff'0000'0000ull, 0xffff'ffffull << 32, 2}};
    CHECK(may_hold_tables(to_the_top, 0xffff'ffff'0000'1000ull, 0xffff'ffff'0000'2000ull));
}
