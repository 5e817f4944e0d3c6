#include "arch-x86_64/boot/boot_report.hpp"

namespace tandem::x86 {
namespace {
void print_nic(Writer& out, const char* name, const NicSelector& nic) {
    switch (nic.kind) {
        case NicSelector::Kind::none: return;
        case NicSelector::Kind::pci:
            print(out, " {}={}:{}.{}", name, hex_digits(nic.bus), hex_digits(nic.device), nic.function);
            return;
        case NicSelector::Kind::mac:
            print(out, " {}={}", name, ColonHex{nic.mac.bytes, 6});
            return;
    }
}
}  // namespace

void report_boot_info(Writer& out, const boot::BootInfo& info) {
    println(out, "boot: {} loader \"{}\", command line \"{}\"",
            info.protocol == boot::BootInfo::Protocol::multiboot2 ? "multiboot2" : "multiboot1",
            info.loader_name.empty() ? std::string_view{"(unnamed)"} : info.loader_name, info.cmdline);
    std::uint64_t available = 0;
    for (const boot::MemoryRegion& r : info.memory_map()) {
        print(out, "memory: {} - {} ", hex(r.base, 12), hex(r.base + r.length, 12));
        if (const char* name = boot::memory_type_name(r.type)) {
            print(out, "{}", name);
        } else {
            print(out, "type {}", r.type);
        }
        println(out, " ({})", Bytes{r.length});
        if (r.type == static_cast<std::uint32_t>(boot::MemoryType::available)) available += r.length;
    }
    println(out, "memory: {} regions, {} available", info.region_count, Bytes{available});
    for (const boot::BootModule& m : info.module_list()) {
        println(out, "module: {} - {} {} \"{}\"", hex(m.start, 8), hex(m.end, 8), Bytes{m.end - m.start}, m.cmdline);
    }
    println(out, "boot: {} module(s){}", info.module_count, info.acpi_rsdp.empty() ? "" : ", ACPI RSDP provided");
}

Status validate_modules(const boot::BootInfo& info) {
    for (std::size_t i = 0; i < info.module_count; ++i) {
        const boot::BootModule& m = info.modules[i];
        bool inside = false;
        for (const boot::MemoryRegion& r : info.memory_map()) {
            if (r.type == static_cast<std::uint32_t>(boot::MemoryType::available) && m.start >= r.base &&
                m.end <= r.base + r.length) {
                inside = true;
                break;
            }
        }
        if (!inside) return Error::of("a module is not inside available RAM; module number", i);
    }
    return success();
}

void report_config(Writer& out, const Config& c) {
    print(out, "config: role={} mode={} epoch_ms={} guest_mem={} failover_ms={} dirty={}", role_name(c.role),
          mode_name(c.mode), c.epoch_ms, Bytes{c.guest_mem}, c.failover_ms, dirty_tracking_name(c.dirty));
    print(out, " key={}", c.has_key ? "(set)" : "(none)");
    if (c.insecure_link) print(out, " insecure_link=1");
    if (c.has_peer_mac) print(out, " peer_mac={}", ColonHex{c.peer_mac.bytes, 6});
    print_nic(out, "link_nic", c.link_nic);
    print_nic(out, "client_nic", c.client_nic);
    if (!c.guest_kernel.empty()) print(out, " guest_kernel={}", c.guest_kernel);
    if (!c.guest_initrd.empty()) print(out, " guest_initrd={}", c.guest_initrd);
    if (!c.guest_cmdline.empty()) print(out, " guest_cmdline=\"{}\"", c.guest_cmdline);
    if (c.mode == Mode::checkpoint) {
        print(out, " peer={} capture={}", c.peer == PeerChoice::local ? "local" : "link",
              c.capture == CaptureChoice::cow ? "cow" : "copy");
    }
    if (c.failover_at != 0) print(out, " failover_at={}", c.failover_at);
    if (c.verify_every != 0) print(out, " verify_every={}", c.verify_every);
    if (c.restore_every != 0) print(out, " restore_every={}", c.restore_every);
    out.write("\n");
}

void dump_multiboot2_block(Writer& out, const boot::BootInfo& info) {
    if (info.loader_extent_count == 0) return;
    const boot::PhysicalExtent& block = info.loader_extents[0];
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(block.start);
    std::uint64_t size = block.end - block.start;
    println(out, "mbi-dump: begin {} at {}", size, hex(block.start));
    static constexpr char kDigits[] = "0123456789abcdef";
    for (std::uint64_t line = 0; line < size; line += 32) {
        char text[64];
        std::size_t n = 0;
        for (std::uint64_t i = line; i < size && i < line + 32; ++i) {
            text[n++] = kDigits[bytes[i] >> 4];
            text[n++] = kDigits[bytes[i] & 0xf];
        }
        println(out, "mbi-dump: {}", std::string_view{text, n});
    }
    println(out, "mbi-dump: end");
}

}  // namespace tandem::x86
