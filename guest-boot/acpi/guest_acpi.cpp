#include "guest-boot/acpi/guest_acpi.hpp"

#include "guest-boot/acpi/aml_writer.hpp"
#include "guest-boot/acpi/dsdt.hpp"
#include "guest-boot/acpi/fadt.hpp"
#include "guest-boot/acpi/madt.hpp"
#include "guest-boot/acpi/sdt_header.hpp"
#include "guest-boot/acpi/table_layout.hpp"

namespace tandem::guest_boot::acpi {
namespace {

constexpr std::uint64_t k4GiB = 1ull << 32;
constexpr std::uint64_t kPage = 0x1000;
constexpr std::uint8_t kXsdtRevision = 1;
constexpr std::size_t kXsdtEntries = 2;  // FADT, MADT
constexpr std::size_t kXsdtSize = sizeof(SdtHeader) + kXsdtEntries * sizeof(std::uint64_t);
constexpr std::uint8_t kMaxSleepType = 7;  // SLP_TYP is bits 4:2 of the sleep control register (§4.8.3.7)

constexpr std::size_t align8(std::size_t v) { return (v + 7) & ~std::size_t{7}; }

// Offsets of each table from the region's base.
struct Layout {
    std::size_t rsdp = 0;
    std::size_t xsdt = 0;
    std::size_t fadt = 0;
    std::size_t madt = 0;
    std::size_t madt_size = 0;
    std::size_t dsdt = 0;
    std::size_t dsdt_body = 0;  // AML bytes after the DSDT's header
    std::size_t total = 0;
};

bool gsi_on_ioapic(const IoApicConfig& io, std::uint32_t gsi) { return gsi >= io.gsi_base && gsi - io.gsi_base < io.pins; }

Status check_config(const AcpiConfig& c) {
    if (c.table_base % 16 != 0) return Error::of("acpi: the table base must be 16-byte aligned (RSDP)", c.table_base);
    if (c.sleep_control_port == 0) return Error::of("acpi: the sleep control port must not be 0");
    if (c.sleep_status_port == 0) return Error::of("acpi: the sleep status port must not be 0");
    if (c.reset_port == 0) return Error::of("acpi: the reset port must not be 0");
    if (c.s5_sleep_type > kMaxSleepType) return Error::of("acpi: the S5 sleep type is 3 bits", c.s5_sleep_type);
    // Linux (acpi_parse_lapic) skips an entry whose APIC id is 0xff.
    if (c.local_apic_id == 0xff) return Error::of("acpi: APIC id 0xff means 'no processor'");
    const IoApicConfig& io = c.ioapic;
    if (io.pins == 0 || io.pins > 240 || io.gsi_base > 0xffff'ffffu - io.pins) {
        return Error::of("acpi: bad IOAPIC input count or GSI base", io.pins);
    }
    if (io.address % 0x400 != 0) return Error::of("acpi: the IOAPIC address must be 1 KiB aligned", io.address);

    if (c.overrides.size() > kMaxInterruptOverrides) {
        return Error::of("acpi: more interrupt source overrides than ISA IRQs", c.overrides.size());
    }
    for (std::size_t i = 0; i < c.overrides.size(); ++i) {
        const InterruptOverride& o = c.overrides[i];
        if (o.isa_irq >= 16) return Error::of("acpi: an override's ISA IRQ must be below 16", o.isa_irq);
        if (!gsi_on_ioapic(io, o.gsi)) return Error::of("acpi: an override's GSI is not an IOAPIC input", o.gsi);
        for (std::size_t j = 0; j < i; ++j) {
            if (c.overrides[j].isa_irq == o.isa_irq) return Error::of("acpi: two overrides for one ISA IRQ", o.isa_irq);
        }
    }

    if (c.com1.present && !gsi_on_ioapic(io, c.com1.gsi)) return Error::of("acpi: COM1's GSI is not an IOAPIC input", c.com1.gsi);
    if (c.rtc.present && !gsi_on_ioapic(io, c.rtc.gsi)) return Error::of("acpi: the RTC's GSI is not an IOAPIC input", c.rtc.gsi);
    if (c.virtio_devices.size() > kMaxVirtioDevices) {
        return Error::of("acpi: too many virtio-mmio devices", c.virtio_devices.size());
    }
    for (std::size_t i = 0; i < c.virtio_devices.size(); ++i) {
        const VirtioMmioDevice& d = c.virtio_devices[i];
        if (d.size == 0) return Error::of("acpi: a virtio-mmio window is empty (device)", i);
        if (d.base >= k4GiB || d.size > k4GiB - d.base) {
            return Error::of("acpi: a virtio-mmio window must lie below 4 GiB (Memory32Fixed)", d.base);
        }
        if (!gsi_on_ioapic(io, d.gsi)) return Error::of("acpi: a virtio-mmio GSI is not an IOAPIC input", d.gsi);
        for (std::size_t j = 0; j < i; ++j) {
            const VirtioMmioDevice& e = c.virtio_devices[j];
            if (d.base < e.base + e.size && e.base < d.base + d.size) {
                return Error::of("acpi: two virtio-mmio windows overlap at", d.base);
            }
        }
    }
    return success();
}

Result<Layout> plan(const AcpiConfig& c) {
    if (Status s = check_config(c); !s) return s.error();
    aml::Writer measure = aml::Writer::measure();
    write_dsdt_body(measure, c);
    if (!measure.ok()) return measure.error();

    Layout l{};
    l.rsdp = 0;
    l.xsdt = align8(l.rsdp + sizeof(Rsdp));
    l.fadt = align8(l.xsdt + kXsdtSize);
    l.madt = align8(l.fadt + sizeof(Fadt));
    l.madt_size = madt_size(c);
    l.dsdt = align8(l.madt + l.madt_size);
    l.dsdt_body = measure.size();
    l.total = l.dsdt + sizeof(SdtHeader) + l.dsdt_body;
    if (l.total > 0xffff'ffffu) return Error::of("acpi: the DSDT is too large", l.total);
    if (c.table_base > ~std::uint64_t{0} - l.total) return Error::of("acpi: the tables would wrap the address space", c.table_base);
    return l;
}

Rsdp make_rsdp(std::uint64_t xsdt_address) {
    Rsdp r{};
    __builtin_memcpy(r.signature, kRsdpSignature.data(), kRsdpSignature.size());
    __builtin_memcpy(r.oem_id, kOemId, sizeof kOemId);
    r.revision = 2;
    r.rsdt_address = 0;  // no RSDT: Linux uses the XSDT of a revision-2 RSDP (acpi_tb_parse_root_table)
    r.length = sizeof(Rsdp);
    r.xsdt_address = xsdt_address;
    auto* bytes = reinterpret_cast<std::uint8_t*>(&r);
    r.checksum = checksum_for(std::span<const std::uint8_t>{bytes, kRsdpV1Size});
    r.extended_checksum = checksum_for(std::span<const std::uint8_t>{bytes, sizeof r});
    return r;
}

}  // namespace

Result<std::uint64_t> acpi_tables_size(const AcpiConfig& config) {
    Result<Layout> layout = plan(config);
    if (!layout) return layout.error();
    return std::uint64_t{layout->total};
}

Result<AcpiTables> build_acpi_tables(const AcpiConfig& config, std::span<std::uint8_t> out) {
    Result<Layout> planned = plan(config);
    if (!planned) return planned.error();
    const Layout& l = *planned;
    if (out.size() < l.total) return Error::of("acpi: the region is too small for the tables (bytes needed)", l.total);

    AcpiTables t{};
    t.base = config.table_base;
    t.size = l.total;
    t.rsdp = config.table_base + l.rsdp;
    t.xsdt = config.table_base + l.xsdt;
    t.fadt = config.table_base + l.fadt;
    t.madt = config.table_base + l.madt;
    t.dsdt = config.table_base + l.dsdt;

    // The DSDT body first: it was measured by the same code, so it cannot fail now; if it ever
    // did, nothing else has been written yet.
    std::span<std::uint8_t> region = out.first(l.total);
    std::span<std::uint8_t> dsdt = region.subspan(l.dsdt);
    aml::Writer body{dsdt.subspan(sizeof(SdtHeader))};
    write_dsdt_body(body, config);
    if (!body.ok()) return body.error();
    if (body.size() != l.dsdt_body) return Error::of("acpi: the DSDT changed size between measuring and writing", body.size());
    for (std::size_t i = 0; i < l.dsdt; ++i) region[i] = 0;  // padding between tables

    store(region, l.rsdp, make_rsdp(t.xsdt));

    std::span<std::uint8_t> xsdt = region.subspan(l.xsdt, kXsdtSize);
    store(xsdt, 0, make_sdt_header("XSDT", kXsdtSize, kXsdtRevision));
    store(xsdt, sizeof(SdtHeader), t.fadt);  // XSDT entries are only 4-byte aligned: stored bytewise
    store(xsdt, sizeof(SdtHeader) + sizeof(std::uint64_t), t.madt);
    seal_table(xsdt);

    store(region, l.fadt, make_fadt(config, t.dsdt));
    write_madt(config, region.subspan(l.madt, l.madt_size));

    store(dsdt, 0, make_sdt_header("DSDT", static_cast<std::uint32_t>(sizeof(SdtHeader) + l.dsdt_body), kDsdtRevision));
    seal_table(dsdt);
    return t;
}

linux_boot::MemoryRange acpi_memory_range(const AcpiTables& tables) {
    std::uint64_t start = tables.base & ~(kPage - 1);
    std::uint64_t end = (tables.base + tables.size + kPage - 1) & ~(kPage - 1);
    return linux_boot::MemoryRange{start, end - start, linux_boot::E820Type::acpi};
}

}  // namespace tandem::guest_boot::acpi
