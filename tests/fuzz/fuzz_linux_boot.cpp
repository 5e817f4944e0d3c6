// libFuzzer: the Linux boot protocol (guest-boot/linux_boot.hpp) on arbitrary files, into 4 MiB of
// guest RAM. An input starting with the ELF magic is loaded as a vmlinux, anything else parsed
// and loaded as a bzImage at its default address; then the zero page is prepared with a command
// line and an initrd whose size comes from the input's last byte. Checked on every input:
//  - a parsed bzImage's views lie inside the file, its header inside 0x1f1..0x301;
//  - a refused load or boot preparation leaves guest memory as it was;
//  - a loaded kernel wrote only [start, end), inside guest RAM; a bzImage's entry is start + 0x200,
//    a vmlinux's lies inside what was loaded;
//  - a prepared boot's zero page says what was placed: command line, initrd (inside RAM, clear of
//    the kernel's [start, reserve_end) and of the boot data), e820 count, and the initrd's bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

#include "guest-boot/linux_boot.hpp"
#include "hypervisor/vm/guest_memory.hpp"

namespace {

using namespace tandem::guest_boot::linux_boot;

constexpr std::uint64_t kHostBase = 0x10'0000;
constexpr std::size_t kRamSize = 0x40'0000;  // 4 MiB
constexpr std::uint8_t kPattern = 0xcc;
constexpr char kCmdline[] = "console=ttyS0 nokaslr tandem.ip=10.0.2.15/24";

class BufferWindow final : public tandem::HostMemoryWindow {
public:
    explicit BufferWindow(std::vector<std::uint8_t>& ram) : ram_(ram) {}
    std::uint8_t* at(std::uint64_t hpa, std::size_t length) const override {
        if (hpa < kHostBase || hpa - kHostBase > ram_.size() || length > ram_.size() - (hpa - kHostBase))
            return nullptr;
        return ram_.data() + (hpa - kHostBase);
    }

private:
    std::vector<std::uint8_t>& ram_;
};

bool untouched(const std::vector<std::uint8_t>& ram, std::uint64_t from, std::uint64_t to) {
    static const std::vector<std::uint8_t> pristine(kRamSize, kPattern);
    return from >= to || std::memcmp(ram.data() + from, pristine.data() + from, to - from) == 0;
}

bool overlaps(std::uint64_t a0, std::uint64_t a1, std::uint64_t b0, std::uint64_t b1) { return a0 < b1 && b0 < a1; }

void check(bool ok) {
    if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static auto* ram = new std::vector<std::uint8_t>(kRamSize);
    static auto* initrd_buffer = new std::vector<std::uint8_t>(kRamSize);
    std::memset(ram->data(), kPattern, ram->size());
    BufferWindow window(*ram);
    tandem::GuestMemory memory(window);
    if (!memory.append(kHostBase, kRamSize)) std::abort();
    std::span<const std::uint8_t> file(data, size);
    const BootDataLayout layout{};
    const tandem::guest_boot::PhysRegion reserved = boot_data_region(layout);

    LoadedKernel kernel;
    const bool elf = size >= 4 && data[0] == 0x7f && data[1] == 'E' && data[2] == 'L' && data[3] == 'F';
    if (elf) {
        auto k = load_vmlinux(file, memory, reserved);
        if (!k) {
            check(untouched(*ram, 0, kRamSize));
            return 0;
        }
        kernel = *k;
        check(kernel.entry64 >= kernel.start && kernel.entry64 < kernel.end);
    } else {
        auto image = parse_bzimage(file);
        if (!image) return 0;
        const BzImage& img = *image;
        check(img.header_end >= 0x268 && img.header_end <= 0x301);
        check(img.setup_size <= size && img.protected_mode.data() == data + img.setup_size);
        check(img.protected_mode.size() == size - img.setup_size && !img.protected_mode.empty());
        check(img.payload.empty() || (img.payload.data() >= img.protected_mode.data() &&
                                      img.payload.data() + img.payload.size() <=
                                          img.protected_mode.data() + img.protected_mode.size()));
        check(img.version.empty() || (reinterpret_cast<const std::uint8_t*>(img.version.data()) >= data &&
                                      reinterpret_cast<const std::uint8_t*>(img.version.data()) + img.version.size() <
                                          data + img.setup_size));
        auto k = load_bzimage(img, memory, default_load_address(img), reserved);
        if (!k) {
            check(untouched(*ram, 0, kRamSize));
            return 0;
        }
        kernel = *k;
        check(kernel.entry64 == kernel.start + 0x200);
        check(kernel.end - kernel.start == img.protected_mode.size());
    }
    check(kernel.start < kernel.end && kernel.end <= kernel.reserve_end && kernel.reserve_end <= kRamSize);
    check(untouched(*ram, 0, kernel.start) && untouched(*ram, kernel.end, kRamSize));

    // The boot request: the usual map, and an initrd sized by the input's last byte.
    const tandem::guest_boot::linux_boot::MemoryRange map[] = {
        {0, 0xa0000, E820Type::ram},
        {0xa0000, 0x60000, E820Type::reserved},
        {0x100000, kRamSize - 0x100000, E820Type::ram},
        {0xd0000000, 0x1000, E820Type::reserved},
        {0xfec00000, 0x1000, E820Type::reserved},
    };
    const std::uint8_t knob = size == 0 ? 0 : data[size - 1];
    const std::size_t initrd_size = std::size_t{knob & 0x7fu} * 0x3100;
    for (std::size_t i = 0; i < initrd_size; ++i) (*initrd_buffer)[i] = static_cast<std::uint8_t>(i ^ 0x5a);
    LinuxBootRequest request;
    request.command_line = kCmdline;
    request.initrd = std::span<const std::uint8_t>(initrd_buffer->data(), initrd_size);
    request.memory_map = map;
    request.page_size = (knob & 0x80) ? IdentityPageSize::size_1g : IdentityPageSize::size_2m;
    auto r = prepare_linux_boot(memory, kernel, request);
    if (!r) {
        check(untouched(*ram, 0, kernel.start) && untouched(*ram, kernel.end, kRamSize));
        return 0;
    }
    check(r->rip == kernel.entry64 && r->rsi == layout.boot_params && r->e820_entries == 5);
    check(r->initrd_size == initrd_size);
    if (initrd_size != 0) {
        check(r->initrd_start % 0x1000 == 0 && r->initrd_start + initrd_size <= kRamSize);
        check(r->initrd_start >= 0x100000 || r->initrd_start + initrd_size <= 0xa0000);
        check(!overlaps(r->initrd_start, r->initrd_start + initrd_size, kernel.start, kernel.reserve_end));
        check(!overlaps(r->initrd_start, r->initrd_start + initrd_size, reserved.start, reserved.end));
        check(std::memcmp(ram->data() + r->initrd_start, initrd_buffer->data(), initrd_size) == 0);
    }
    static BootParams bp;  // 4 KiB: not on the stack
    std::memcpy(&bp, ram->data() + layout.boot_params, sizeof(bp));
    check(bp.hdr.cmd_line_ptr == layout.command_line && bp.hdr.type_of_loader == 0xff);
    check(bp.hdr.ramdisk_image == r->initrd_start && bp.hdr.ramdisk_size == initrd_size);
    check(bp.e820_entries == 5 && bp.sentinel == 0);
    check(std::memcmp(ram->data() + layout.command_line, kCmdline, sizeof(kCmdline)) == 0);
    return 0;
}
