// libFuzzer: the ACPI table walk and the MCFG parser. The input is physical memory at kBase
// (where tests/unit/acpi_table_builder.hpp's StandardTables puts its tables, so the seeds'
// pointers land inside it); its first 36 bytes are also the boot loader's copy of the RSDP.
// Everything outside the input is unreadable. The whole input is also fed to parse_mcfg directly.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "arch-x86_64/acpi/mcfg.hpp"
#include "arch-x86_64/acpi/pci_access_plan.hpp"
#include "arch-x86_64/boot/multiboot1.hpp"

namespace {
constexpr std::uint64_t kBase = 0x7fe0000;

class InputMemory final : public tandem::boot::PhysicalReader {
public:
    InputMemory(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
    std::span<const std::uint8_t> bytes(std::uint64_t phys, std::size_t length) const override {
        if (phys < kBase || phys - kBase > size_ || length > size_ - (phys - kBase)) return {};
        return {data_ + (phys - kBase), length};
    }

private:
    const std::uint8_t* data_;
    std::size_t size_;
};

class NullWriter final : public tandem::Writer {
public:
    void write(std::string_view) override {}
};

void check_regions(const tandem::acpi::McfgTable& mcfg) {
    if (mcfg.stored > tandem::acpi::kMaxEcamRegions || mcfg.stored > mcfg.listed) std::abort();
    for (const auto& r : mcfg.region_list()) {
        if (r.start_bus > r.end_bus || r.base % (1u << 20) != 0) std::abort();
        if (r.first_byte() + r.size() > (1ull << 52)) std::abort();
    }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace tandem::acpi;
    InputMemory memory(data, size);
    std::span<const std::uint8_t> input{data, size};

    PciAccessPlan plan = plan_pci_access(memory, input.first(size < 36 ? size : 36));
    check_regions(plan.mcfg);
    if (plan.mechanism == PciAccessPlan::Mechanism::ecam) {
        if (plan.malformed != nullptr || plan.ecam.segment != 0 || plan.ecam.start_bus != 0) std::abort();
        if (plan.mcfg.listed == 0) std::abort();
    } else if (plan.reason == nullptr || plan.reason[0] == '\0') {
        std::abort();  // mechanism #1 always says why
    }
    NullWriter out;
    report_pci_access(out, plan);

    if (auto mcfg = parse_mcfg(input); mcfg) check_regions(*mcfg);
    return 0;
}
