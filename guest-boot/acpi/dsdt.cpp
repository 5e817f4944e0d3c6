#include "guest-boot/acpi/dsdt.hpp"

#include "guest-boot/acpi/aml_resources.hpp"

namespace tandem::guest_boot::acpi {
namespace {

// A legacy PC device: its PNP id, an I/O port range and one edge-triggered, active-high GSI
// (an Extended Interrupt, so the ACPI core routes the IOAPIC input as described).
void write_pc_device(aml::Writer& w, std::string_view name, std::string_view eisa_id, const std::uint64_t* uid,
                     std::uint16_t port, std::uint8_t ports, std::uint32_t gsi) {
    aml::Writer::Mark device = w.open_device(name);
    w.name("_HID");
    w.eisa_id(eisa_id);
    if (uid != nullptr) {
        w.name("_UID");
        w.integer(*uid);
    }
    w.name("_CRS");
    aml::Writer::Mark crs = aml::open_resource_template(w);
    aml::io_port(w, port, ports);
    aml::extended_interrupt(w, Trigger::edge, Polarity::active_high, false, gsi);
    aml::close_resource_template(w, crs);
    w.close(device);
}

void write_com1(aml::Writer& w, const Com1Config& com1) {
    constexpr std::uint64_t kUid = 0;
    write_pc_device(w, "COM1", "PNP0501", &kUid, com1.port, 8, com1.gsi);
}

// The MC146818 RTC as a PNP0B00 device (§9.15, PC/AT RTC/CMOS Devices): the two ports and
// IRQ 8, so the ACPI core registers IOAPIC input 8 edge/high for rtc_cmos.
void write_rtc(aml::Writer& w, const RtcConfig& rtc) { write_pc_device(w, "RTC", "PNP0B00", nullptr, rtc.port, 2, rtc.gsi); }

void write_virtio_mmio(aml::Writer& w, std::size_t index, const VirtioMmioDevice& dev) {
    constexpr char kHex[] = "0123456789ABCDEF";
    const char name[4] = {'V', 'R', kHex[(index >> 4) & 0xf], kHex[index & 0xf]};
    aml::Writer::Mark device = w.open_device(std::string_view{name, sizeof name});
    w.name("_HID");
    w.string("LNRO0005");
    w.name("_UID");
    w.integer(index);
    w.name("_CCA");
    w.integer(1);
    w.name("_CRS");
    aml::Writer::Mark crs = aml::open_resource_template(w);
    aml::memory32_fixed(w, true, static_cast<std::uint32_t>(dev.base), dev.size);
    aml::extended_interrupt(w, dev.trigger, Polarity::active_high, false, dev.gsi);
    aml::close_resource_template(w, crs);
    w.close(device);
}

}  // namespace

void write_dsdt_body(aml::Writer& w, const AcpiConfig& config) {
    w.name("_S5");
    aml::Writer::Mark s5 = w.open_package(4);
    w.integer(config.s5_sleep_type);
    w.integer(0);
    w.integer(0);
    w.integer(0);
    w.close(s5);

    aml::Writer::Mark sb = w.open_scope("\\_SB");
    if (config.com1.present) write_com1(w, config.com1);
    if (config.rtc.present) write_rtc(w, config.rtc);
    for (std::size_t i = 0; i < config.virtio_devices.size(); ++i) write_virtio_mmio(w, i, config.virtio_devices[i]);
    w.close(sb);
}

}  // namespace tandem::guest_boot::acpi
