// An uncompressed vmlinux (ELF64, loaded by elf_loader.cpp at its segments' physical addresses),
// and the setup header it lacks, synthesised (protocol 2.15) so that prepare_linux_boot writes the
// zero page the same way for both formats.
#include "guest-boot/linux_boot.hpp"
#include "guest-boot/linux_boot_detail.hpp"

namespace tandem::guest_boot::linux_boot {

using detail::align_up;
using detail::kHeapEndPtr;
using detail::min;

namespace {

constexpr std::uint16_t kProtocol215 = 0x020f;
constexpr std::uint32_t kVmlinuxAlignment = 0x200000;  // CONFIG_PHYSICAL_ALIGN: head_64.S needs 2 MiB
constexpr std::uint32_t kVmlinuxCmdlineSize = 2047;     // COMMAND_LINE_SIZE 2048, less the NUL
constexpr std::uint32_t kVmlinuxInitrdAddrMax = 0x7fffffff;

}  // namespace

SetupHeader vmlinux_setup_header(std::uint64_t start, std::uint64_t end) {
    SetupHeader h{};
    h.boot_flag = kBootFlag;
    h.jump = 0x6aeb;  // "jmp short" over a 0x6a-byte header: the header ends at 0x26c
    h.header = kHeaderMagic;
    h.version = kProtocol215;
    h.type_of_loader = kLoaderUndefined;
    h.loadflags = kLoadedHigh | kCanUseHeap;
    h.heap_end_ptr = kHeapEndPtr;
    h.kernel_alignment = kVmlinuxAlignment;
    h.min_alignment = 21;
    h.relocatable_kernel = 0;  // loaded where it is linked: p_paddr
    h.xloadflags = kXlfKernel64 | kXlfCanBeLoadedAbove4g;
    h.cmdline_size = kVmlinuxCmdlineSize;
    h.initrd_addr_max = kVmlinuxInitrdAddrMax;
    h.pref_address = start;
    h.code32_start = static_cast<std::uint32_t>(start);
    std::uint64_t extent = align_up(end - start, kPageSize);
    h.init_size = static_cast<std::uint32_t>(min(extent, 0xffff'f000ull));
    return h;
}

Result<LoadedKernel> load_vmlinux(std::span<const std::uint8_t> file, GuestMemory& memory, PhysRegion reserved) {
    constexpr std::uint8_t kElfMagic[4] = {0x7f, 'E', 'L', 'F'};
    bool elf = file.size() >= 5;
    for (std::size_t i = 0; elf && i < 4; ++i) elf = file[i] == kElfMagic[i];
    if (elf && file[4] != 2) return Error::of("vmlinux: not a 64-bit kernel (ELF class)", file[4]);
    auto loaded = load_elf(file, memory, reserved, EntryAddress::physical_or_virtual);
    if (!loaded) return loaded.error();
    LoadedKernel k;
    k.format = KernelFormat::vmlinux;
    k.header = vmlinux_setup_header(loaded->lowest, loaded->highest);
    k.entry64 = loaded->entry;
    k.start = loaded->lowest;
    k.end = loaded->highest;
    k.reserve_end = align_up(loaded->highest, kPageSize);
    return k;
}

}  // namespace tandem::guest_boot::linux_boot
