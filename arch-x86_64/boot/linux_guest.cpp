#include "arch-x86_64/boot/linux_guest.hpp"

#include "arch-x86_64/boot/guest_image.hpp"
#include "arch-x86_64/time/host_rtc.hpp"
#include "guest-boot/acpi/guest_acpi.hpp"
#include "guest-boot/linux_boot.hpp"
#include "hypervisor/console/console.hpp"
#include "hypervisor/devices/acpi_pm_timer.hpp"
#include "hypervisor/devices/cmos_clock_reading.hpp"
#include "hypervisor/devices/ioapic_model.hpp"
#include "hypervisor/devices/local_apic_model.hpp"
#include "hypervisor/devices/uart16550_model.hpp"
#include "replication/sessions/session_machine.hpp"

namespace tandem::x86 {
namespace {

namespace lb = guest_boot::linux_boot;
namespace acpi = guest_boot::acpi;

// No tsc=reliable (issue 18): the guest's TSC is the host's invariant TSC plus a constant offset,
// and CPUID says so (invariant TSC, IA32_TSC_ADJUST: cpuid_policy.cpp), which Linux takes as
// reason enough to trust it without a clocksource watchdog.
constexpr std::string_view kDefaultCommandLine = "console=ttyS0 nokaslr";

std::span<const std::uint8_t> module_bytes(const boot::BootModule& m) {
    return {reinterpret_cast<const std::uint8_t*>(m.start), static_cast<std::size_t>(m.end - m.start)};
}

bool is_elf(std::span<const std::uint8_t> f) {
    return f.size() >= 4 && f[0] == 0x7f && f[1] == 'E' && f[2] == 'L' && f[3] == 'F';
}

bool is_bzimage(std::span<const std::uint8_t> f) {
    return f.size() >= 0x206 && f[0x202] == 'H' && f[0x203] == 'd' && f[0x204] == 'r' && f[0x205] == 'S';
}

// Linux's vmlinux carries an ELF note named "Linux" (init/version.c, ELFNOTE32("Linux", 0, ...)):
// looked for as the bytes of a note header naming it, anywhere in the first MiB.
bool has_linux_note(std::span<const std::uint8_t> f) {
    static constexpr std::uint8_t kNote[] = {6, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 'L', 'i', 'n', 'u', 'x', 0};
    std::size_t limit = f.size() < (1u << 20) ? f.size() : (1u << 20);
    for (std::size_t i = 0; i + sizeof(kNote) <= limit; i += 4) {
        if (__builtin_memcmp(f.data() + i, kNote, sizeof(kNote)) == 0) return true;
    }
    return false;
}

Error fail(const char* what, const Error& e) {
    sessions::report_problem(console(), what, e);
    return e;
}

}  // namespace

bool is_linux_kernel(std::span<const std::uint8_t> file, const Config& config) {
    if (is_bzimage(file)) return true;
    return is_elf(file) && (!config.guest_initrd.empty() || has_linux_note(file));
}

bool configured_for_linux(const Config& config, const boot::BootInfo& boot) {
    const boot::BootModule* m = find_module(boot, config.guest_kernel);
    if (m == nullptr) return false;  // the loader reports the missing module
    return is_linux_kernel(module_bytes(*m), config);
}

Result<GuestEntry> load_linux_guest(const Config& config, const boot::BootInfo& boot, GuestMemory& memory,
                                    std::uint64_t virtio_net_base, std::uint32_t virtio_net_size) {
    Writer& out = console();
    const boot::BootModule* kernel_module = find_module(boot, config.guest_kernel);
    if (kernel_module == nullptr) return Error::of("guest module missing");
    auto file = module_bytes(*kernel_module);

    std::span<const std::uint8_t> initrd;
    if (!config.guest_initrd.empty()) {
        const boot::BootModule* m = find_module(boot, config.guest_initrd);
        if (m == nullptr) {
            print(out, "tandem: cannot start the guest: no module named '{}' for guest_initrd= (modules given:",
                  config.guest_initrd);
            for (const boot::BootModule& each : boot.module_list()) print(out, " '{}'", first_word(each.cmdline));
            println(out, "); add 'module2 FILE {}' to the GRUB entry", config.guest_initrd);
            return Error::of("initrd module missing");
        }
        initrd = module_bytes(*m);
    }

    lb::BootDataLayout layout{};
    guest_boot::PhysRegion reserved = lb::boot_data_region(layout);
    Result<lb::LoadedKernel> kernel = Error::of("no kernel");
    const char* format = "";
    if (is_elf(file)) {
        kernel = lb::load_vmlinux(file, memory, reserved);
        format = "vmlinux";
    } else {
        auto image = lb::parse_bzimage(file);
        if (!image) return fail("its kernel (bzImage)", image.error());
        kernel = lb::load_bzimage(*image, memory, lb::default_load_address(*image), reserved);
        format = "bzImage";
    }
    if (!kernel) return fail("its kernel", kernel.error());

    // The ACPI tables: the PC tandem models (pc_platform.hpp) and the virtio-net card.
    acpi::VirtioMmioDevice net{virtio_net_base, virtio_net_size, kLinuxVirtioNetGsi, acpi::Trigger::edge};
    acpi::AcpiConfig ac{};
    ac.table_base = kLinuxAcpiBase;
    ac.sleep_control_port = kLinuxPowerPorts.sleep_control;
    ac.sleep_status_port = kLinuxPowerPorts.sleep_status;
    ac.reset_port = kLinuxPowerPorts.reset;
    ac.reset_value = kLinuxPowerPorts.reset_value;
    ac.s5_sleep_type = kLinuxPowerPorts.s5_sleep_type;
    ac.pm_timer_port = AcpiPmTimer::kPort;
    if (virtio_net_base != 0) ac.virtio_devices = {&net, 1};
    // COM1 as an ACPI device (PNP0501): on a hardware-reduced platform Linux has no legacy PIC
    // and maps no ISA IRQ by itself, so the 8250 driver gets IRQ 4 through this entry; without it
    // the port has no interrupt and userspace's console output never leaves.
    ac.com1.present = true;
    ac.com1.port = Uart16550Model::kBase;
    ac.com1.gsi = Uart16550Model::kIrqPin;
    static std::uint8_t tables[kLinuxAcpiCapacity];
    auto built = acpi::build_acpi_tables(ac, tables);
    if (!built) return fail("its ACPI tables", built.error());
    if (auto s = memory.write(kLinuxAcpiBase, {tables, static_cast<std::size_t>(built->size)}); !s) {
        return fail("its ACPI tables", s.error());
    }

    // The memory map: RAM, the legacy area, the ACPI tables, and the device windows.
    lb::MemoryRange acpi_range = acpi::acpi_memory_range(*built);
    lb::MemoryRange map[8];
    unsigned n = 0;
    map[n++] = {0, kLinuxLowRamEnd, lb::E820Type::ram};
    map[n++] = {kLinuxLowRamEnd, acpi_range.start - kLinuxLowRamEnd, lb::E820Type::reserved};
    map[n++] = acpi_range;
    if (acpi_range.start + acpi_range.size < 0x100000) {
        map[n++] = {acpi_range.start + acpi_range.size, 0x100000 - (acpi_range.start + acpi_range.size),
                    lb::E820Type::reserved};
    }
    map[n++] = {0x100000, memory.size() - 0x100000, lb::E820Type::ram};
    if (virtio_net_base != 0) map[n++] = {virtio_net_base, 0x1000, lb::E820Type::reserved};
    map[n++] = {IoApicModel::kBase, IoApicModel::kSize, lb::E820Type::reserved};
    map[n++] = {LocalApicModel::kDefaultBase, LocalApicModel::kXapicPageSize, lb::E820Type::reserved};

    lb::LinuxBootRequest request{};
    request.command_line = config.guest_cmdline.empty() ? kDefaultCommandLine : config.guest_cmdline;
    request.initrd = initrd;
    request.memory_map = {map, n};
    request.acpi_rsdp = built->rsdp;
    request.layout = layout;
    auto entry = lb::prepare_linux_boot(memory, *kernel, request);
    if (!entry) return fail("its boot data", entry.error());

    println(out, "vm: Linux guest '{}' ({} at {} - {}), entry {}, initrd {} at {}, ACPI tables at {} ({}), "
                 "{} e820 entries, {} of RAM",
            config.guest_kernel, format, hex(kernel->start), hex(kernel->end), hex(entry->rip),
            Bytes{entry->initrd_size}, hex(entry->initrd_start), hex(built->rsdp), Bytes{built->size},
            entry->e820_entries, Bytes{memory.size()});
    println(out, "vm: guest command line: {}", request.command_line);

    GuestEntry e{};
    e.mode = guest_boot::EntryMode::long64;
    e.rip = entry->rip;
    e.rsp = entry->rsp;
    e.rsi = entry->rsi;
    e.rdi = 0;
    e.cr3 = entry->cr3;
    return e;
}

std::int64_t guest_rtc_start(Writer& out) {
    auto now = read_host_rtc();
    if (!now) {
        print(out, "vm: this machine's RTC could not be read (");
        print(out, "{}", now.error());
        println(out, "): the guest's RTC starts at 1970-01-01T00:00:00Z");
        return 0;
    }
    println(out, "vm: the guest's RTC starts at {} (this machine's RTC)", iso8601(*now).text);
    return *now;
}

}  // namespace tandem::x86
