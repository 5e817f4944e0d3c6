// The zero page, struct boot_params (zero-page.rst; boot.rst, 64-bit Boot Protocol): the
// kernel's own setup header with the fields a loader writes or modifies, the upper halves of the
// 64-bit addresses, the RSDP, and the e820 table. Everything else stays zero, which tells the
// kernel that no firmware provided it.
#include "guest-boot/linux_boot.hpp"
#include "guest-boot/linux_boot_detail.hpp"

namespace tandem::guest_boot::linux_boot {
namespace {

template <class T>
Status store_at(GuestMemory& memory, std::uint64_t boot_params, std::size_t offset, T value) {
    return memory.store<T>(boot_params + offset, value);
}

}  // namespace

Status detail::write_zero_page(GuestMemory& memory, const LoadedKernel& kernel, const LinuxBootRequest& request,
                               const SortedMap& map, std::uint64_t initrd_start) {
    const std::uint64_t bp = request.layout.boot_params;
    const std::uint64_t cmdline = request.layout.command_line;
    if (auto s = memory.fill(bp, 0, sizeof(BootParams)); !s) return s;

    // boot.rst, 64-bit Boot Protocol: start from the kernel's setup header, then write the fields
    // a loader writes ("write (obligatory)" and "modify").
    SetupHeader h = kernel.header;
    h.vid_mode = kVidModeNormal;
    h.type_of_loader = kLoaderUndefined;
    h.ext_loader_ver = 0;
    h.ext_loader_type = 0;
    h.loadflags = static_cast<std::uint8_t>(h.loadflags | kCanUseHeap);
    h.heap_end_ptr = kHeapEndPtr;
    h.code32_start = static_cast<std::uint32_t>(kernel.start);  // a relocated kernel's load address
    h.cmd_line_ptr = static_cast<std::uint32_t>(cmdline);
    h.ramdisk_image = static_cast<std::uint32_t>(initrd_start);
    h.ramdisk_size = static_cast<std::uint32_t>(request.initrd.size());
    h.hardware_subarch = 0;  // the default x86/PC environment
    h.hardware_subarch_data = 0;
    h.setup_data = 0;
    if (auto s = memory.write(bp + kSetupHeaderOffset, {reinterpret_cast<const std::uint8_t*>(&h), sizeof(h)}); !s) {
        return s;
    }
    // The upper halves of the 64-bit addresses (zero-page.rst, protocol 2.12's extension fields).
    if (auto s = store_at(memory, bp, offsetof(BootParams, ext_cmd_line_ptr), static_cast<std::uint32_t>(cmdline >> 32));
        !s) {
        return s;
    }
    if (auto s = store_at(memory, bp, offsetof(BootParams, ext_ramdisk_image),
                          static_cast<std::uint32_t>(initrd_start >> 32));
        !s) {
        return s;
    }
    if (auto s = store_at(memory, bp, offsetof(BootParams, ext_ramdisk_size),
                          static_cast<std::uint32_t>(static_cast<std::uint64_t>(request.initrd.size()) >> 32));
        !s) {
        return s;
    }
    if (auto s = store_at(memory, bp, offsetof(BootParams, acpi_rsdp_addr), request.acpi_rsdp); !s) return s;

    std::uint8_t count = 0;
    Status status = success();
    for_each_entry(map, [&](std::uint64_t start, std::uint64_t end, E820Type type) {
        if (!status) return;
        E820Entry e{start, end - start, type};
        status = memory.store(bp + offsetof(BootParams, e820_table) + sizeof(E820Entry) * count, e);
        ++count;
    });
    if (!status) return status;
    return store_at(memory, bp, offsetof(BootParams, e820_entries), count);
}

}  // namespace tandem::guest_boot::linux_boot
