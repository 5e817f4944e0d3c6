// Putting an unmodified Linux kernel in guest memory (issue: stock Linux guest): the kernel
// (bzImage or uncompressed vmlinux, guest-boot/linux_boot.hpp), the initrd and command line from
// their GRUB modules and guest_cmdline=, the ACPI tables describing the PC tandem models
// (guest-boot/acpi/guest_acpi.hpp) and an e820 map that matches guest RAM and those devices.
// Every problem is reported on the console with what was expected.
#pragma once

#include <cstdint>
#include <span>

#include "arch-x86_64/boot/boot_info.hpp"
#include "arch-x86_64/vmx/guest_entry.hpp"
#include "hypervisor/config/config.hpp"
#include "hypervisor/console/writer.hpp"
#include "hypervisor/devices/power_control.hpp"
#include "hypervisor/vm/guest_memory.hpp"

namespace tandem::x86 {

// The guest-physical layout of the Linux guest's devices.
inline constexpr std::uint64_t kLinuxAcpiBase = 0xe0000;       // ACPI tables: [0xe0000, 0x100000)
inline constexpr std::uint64_t kLinuxAcpiCapacity = 0x20000;
inline constexpr std::uint64_t kLinuxLowRamEnd = 0x9f000;       // below: RAM; up to 1 MiB: reserved
inline constexpr std::uint32_t kLinuxVirtioNetGsi = 5;
inline constexpr PowerPorts kLinuxPowerPorts{};

// guest_kernel= names a Linux kernel among the boot modules (see is_linux_kernel). Both machines
// of a pair carry the same modules: the backup, which loads nothing, learns from them which
// virtual platform to build so that the primary's checkpoints fit it.
bool configured_for_linux(const Config& config, const boot::BootInfo& boot);

// A Linux kernel rather than a tandem test guest: a bzImage ("HdrS" at 0x202), or an ELF image
// when guest_initrd= is given or the ELF carries Linux's version note.
bool is_linux_kernel(std::span<const std::uint8_t> file, const Config& config);

// The guest RTC's time at guest TSC 0: this machine's own RTC now, said on the console; if it
// cannot be read, 1970-01-01 and the reason (a backup's platform takes the primary's RTC state
// with the first checkpoint, so only the primary's reading reaches the guest).
std::int64_t guest_rtc_start(Writer& out);

// Loads the kernel named by guest_kernel= and everything it needs into `memory` (zeroed guest
// RAM); `virtio_net_base` is the virtio-mmio window of the guest's network card (0: none).
Result<GuestEntry> load_linux_guest(const Config& config, const boot::BootInfo& boot, GuestMemory& memory,
                                    std::uint64_t virtio_net_base, std::uint32_t virtio_net_size);

}  // namespace tandem::x86
