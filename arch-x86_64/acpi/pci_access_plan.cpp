#include "arch-x86_64/acpi/pci_access_plan.hpp"

#include "arch-x86_64/acpi/rsdp_scan.hpp"
#include "arch-x86_64/acpi/tables.hpp"

namespace tandem::acpi {
namespace {

PciAccessPlan& broken(PciAccessPlan& plan, const char* which, const Error& problem) {
    plan.mechanism = PciAccessPlan::Mechanism::mechanism1;
    plan.malformed = which;
    plan.problem = problem;
    plan.reason = "the ACPI tables are malformed: ECAM not trusted";
    return plan;
}

// Firmware's OEM id, with anything unprintable shown as '?' so it cannot garble the console.
struct OemId {
    char text[6];
    explicit OemId(const char (&raw)[6]) {
        for (std::size_t i = 0; i < 6; ++i) text[i] = raw[i] >= 0x20 && raw[i] < 0x7f ? raw[i] : '?';
    }
    std::string_view view() const { return {text, 6}; }
};

void print_region(Writer& out, const EcamRegion& r) {
    print(out, "at {} buses {}-{}", hex(r.first_byte()), r.start_bus, r.end_bus);
}

}  // namespace

PciAccessPlan plan_pci_access(const boot::PhysicalReader& memory, std::span<const std::uint8_t> loader_rsdp) {
    PciAccessPlan plan;
    std::span<const std::uint8_t> rsdp_bytes = loader_rsdp;
    if (!loader_rsdp.empty()) {
        plan.rsdp_source = PciAccessPlan::RsdpSource::boot_loader;
    } else {
        auto found = find_rsdp_in_bios_areas(memory);
        if (!found) {
            plan.reason = "no ACPI RSDP";
            return plan;
        }
        plan.rsdp_source = PciAccessPlan::RsdpSource::bios_area;
        plan.rsdp_address = found->address;
        rsdp_bytes = found->bytes;
    }
    auto rsdp = parse_rsdp(rsdp_bytes);
    if (!rsdp) return broken(plan, "RSDP", rsdp.error());
    plan.rsdp = *rsdp;
    plan.rsdp_valid = true;

    plan.root_extended = rsdp->revision >= 2 && rsdp->xsdt_address != 0;
    plan.root_address = plan.root_extended ? rsdp->xsdt_address : rsdp->rsdt_address;
    const char* root_name = plan.root_extended ? "XSDT" : "RSDT";
    auto root = read_root_table(memory, *rsdp);
    if (!root) return broken(plan, root_name, root.error());
    plan.root_valid = true;
    plan.root_entries = root->entry_count();

    auto lookup = find_table(memory, *root, "MCFG");
    if (!lookup) return broken(plan, root_name, lookup.error());
    if (!lookup->found) {
        plan.reason = "no ACPI MCFG table";
        return plan;
    }
    plan.mcfg_address = lookup->address;
    auto table = read_table(memory, lookup->address, "MCFG");
    if (!table) return broken(plan, "MCFG", table.error());
    auto mcfg = parse_mcfg(table->bytes);
    if (!mcfg) return broken(plan, "MCFG", mcfg.error());
    plan.mcfg = *mcfg;

    const EcamRegion* region = mcfg->segment0_from_bus0();
    if (region == nullptr) {
        plan.reason = mcfg->listed == 0 ? "the ACPI MCFG table lists no ECAM region"
                                        : "the ACPI MCFG table has no segment-0 region from bus 0";
        return plan;
    }
    plan.mechanism = PciAccessPlan::Mechanism::ecam;
    plan.ecam = *region;
    return plan;
}

void report_pci_access(Writer& out, const PciAccessPlan& plan) {
    using Source = PciAccessPlan::RsdpSource;
    if (plan.rsdp_source == Source::none) {
        println(out, "acpi: no RSDP (the boot loader passed none and the BIOS areas hold none)");
    } else if (plan.rsdp_valid) {
        print(out, "acpi: RSDP revision {} \"{}\" ", plan.rsdp.revision, OemId{plan.rsdp.oem_id}.view());
        if (plan.rsdp_source == Source::boot_loader) {
            print(out, "from the boot loader");
        } else {
            print(out, "at {} (BIOS area)", hex(plan.rsdp_address));
        }
        print(out, "; {} at {}", plan.root_extended ? "XSDT" : "RSDT", hex(plan.root_address));
        if (plan.root_valid) print(out, " lists {} tables", plan.root_entries);
        if (plan.mcfg_address != 0) {
            println(out, "; MCFG at {}", hex(plan.mcfg_address));
        } else {
            println(out, plan.root_valid && plan.malformed == nullptr ? "; no MCFG" : "");
        }
    }
    if (plan.malformed != nullptr) println(out, "acpi: the {} is malformed: {}", plan.malformed, plan.problem);

    for (const EcamRegion& r : plan.mcfg.region_list()) {
        if (plan.mechanism == PciAccessPlan::Mechanism::ecam && r.base == plan.ecam.base &&
            r.segment == plan.ecam.segment && r.start_bus == plan.ecam.start_bus) {
            continue;
        }
        print(out, "pci: ECAM region of segment {} ", r.segment);
        print_region(out, r);
        println(out, " not used (tandem enumerates segment 0 from bus 0 only)");
    }
    if (plan.mcfg.listed > plan.mcfg.stored) {
        println(out, "pci: the MCFG lists {} more ECAM region(s), not examined", plan.mcfg.listed - plan.mcfg.stored);
    }
    if (plan.mechanism == PciAccessPlan::Mechanism::ecam) {
        print(out, "pci: ECAM ");
        print_region(out, plan.ecam);
        println(out, " (ACPI MCFG)");
    } else {
        println(out, "pci: configuration mechanism #1 ({})", plan.reason);
    }
}

}  // namespace tandem::acpi
