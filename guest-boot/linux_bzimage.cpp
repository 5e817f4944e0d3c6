// The bzImage (boot.rst, "The Real-Mode Kernel Header"): its setup header parsed and every size
// and offset in it checked against the file, then the protected-mode kernel loaded at a
// kernel_alignment-aligned address with room up to init_size for the decompressor.
#include "guest-boot/linux_boot.hpp"
#include "guest-boot/linux_boot_detail.hpp"

#include "hypervisor/util/bytes.hpp"

namespace tandem::guest_boot::linux_boot {

using detail::align_up;
using detail::max;
using detail::min;
using detail::overlaps;
using detail::power_of_two;

namespace {

constexpr std::size_t kHeaderEnd212 = 0x268;  // handover_offset (2.11) is the last 2.12 field
constexpr std::size_t kHeaderEndMax = kSetupHeaderOffset + sizeof(SetupHeader);

}  // namespace

Result<BzImage> parse_bzimage(std::span<const std::uint8_t> f) {
    // The setup header straddles the boot sector's end and the first setup sector.
    if (f.size() < 2 * kSectorSize) {
        return Error::of("bzimage: file is shorter than a boot sector and the setup header", f.size());
    }
    auto boot_flag = load_le<std::uint16_t>(f, 0x1fe);
    if (boot_flag != kBootFlag) return Error::of("bzimage: no boot flag 0xaa55 at offset 0x1fe", boot_flag);
    auto magic = load_le<std::uint32_t>(f, 0x202);
    if (magic != kHeaderMagic) {
        return Error::of("bzimage: no \"HdrS\" setup header at offset 0x202 (not a Linux kernel image)", magic);
    }
    auto version = load_le<std::uint16_t>(f, 0x206);
    if (version < kMinimumProtocol) {
        return Error::of("bzimage: boot protocol older than 2.12, which 64-bit entry needs; version", version);
    }
    if (f[kJumpOffset] != 0xeb) {
        return Error::of("bzimage: no short jump at offset 0x200 to give the setup header's length", f[kJumpOffset]);
    }
    const std::size_t header_end = 0x202 + std::size_t{f[kJumpOffset + 1]};
    if (header_end < kHeaderEnd212) {
        return Error::of("bzimage: setup header ends before the fields of protocol 2.12; it ends at", header_end);
    }

    BzImage image;
    image.header_end = header_end;
    // Only the header's own bytes: what lies past its end belongs to the setup code (boot.rst,
    // 64-bit Boot Protocol: "the end of setup header can be calculated as 0x0202 + byte at 0x0201").
    auto* raw = reinterpret_cast<std::uint8_t*>(&image.header);
    for (std::size_t i = kSetupHeaderOffset; i < min(header_end, kHeaderEndMax); ++i) raw[i - kSetupHeaderOffset] = f[i];
    const SetupHeader& h = image.header;

    if (!(h.loadflags & kLoadedHigh)) {
        return Error::of("bzimage: loadflags LOADED_HIGH clear: a zImage, which tandem cannot load", h.loadflags);
    }
    if (!(h.xloadflags & kXlfKernel64)) {
        return Error::of("bzimage: no 64-bit entry point (xloadflags XLF_KERNEL_64 clear)", h.xloadflags);
    }
    const std::uint32_t setup_sects = h.setup_sects == 0 ? 4u : h.setup_sects;  // boot.rst: 0 means 4
    image.setup_size = (setup_sects + 1) * static_cast<std::uint32_t>(kSectorSize);
    if (image.setup_size > f.size()) {
        return Error::of("bzimage: setup code (setup_sects) runs past the end of the file; setup size", image.setup_size);
    }
    if (image.setup_size == f.size()) {
        return Error::of("bzimage: no protected-mode kernel after the setup code; file size", f.size());
    }
    image.protected_mode = f.subspan(image.setup_size);
    const std::uint64_t kernel_size = std::uint64_t{h.syssize} * 16;  // syssize counts 16-byte paragraphs
    if (kernel_size == 0) return Error::of("bzimage: syssize is zero");
    if (kernel_size > image.protected_mode.size()) {
        return Error::of("bzimage: protected-mode kernel (syssize) runs past the end of the file; size", kernel_size);
    }
    if (!power_of_two(h.kernel_alignment)) {
        return Error::of("bzimage: kernel_alignment is not a power of two", h.kernel_alignment);
    }
    if (h.init_size < kernel_size) {
        return Error::of("bzimage: init_size is smaller than the protected-mode kernel", h.init_size);
    }
    if (h.cmdline_size == 0) return Error::of("bzimage: cmdline_size is zero");
    if (h.payload_offset != 0 || h.payload_length != 0) {
        if (std::uint64_t{h.payload_offset} + h.payload_length > kernel_size) {
            return Error::of("bzimage: payload (payload_offset + payload_length) runs past the kernel; offset",
                             h.payload_offset);
        }
        image.payload = image.protected_mode.subspan(h.payload_offset, h.payload_length);
    }
    // The version string is for messages only: a bad pointer leaves it empty rather than refuse.
    if (h.kernel_version != 0) {
        std::string_view v;
        std::size_t at = 0x200 + std::size_t{h.kernel_version};
        if (at < image.setup_size && c_string_in(f, at, image.setup_size - at, v)) image.version = v;
    }
    return image;
}

std::uint64_t default_load_address(const BzImage& image) {
    return image.header.pref_address != 0 ? image.header.pref_address : 0x100000;
}

Result<LoadedKernel> load_bzimage(const BzImage& image, GuestMemory& memory, std::uint64_t load_address,
                                  PhysRegion reserved) {
    const SetupHeader& h = image.header;
    if (h.relocatable_kernel != 0) {
        if (load_address % h.kernel_alignment != 0) {
            return Error::of("bzimage: load address is not a multiple of kernel_alignment", load_address);
        }
    } else if (load_address != h.pref_address) {
        return Error::of("bzimage: kernel is not relocatable and must load at pref_address", h.pref_address);
    }
    // init_size counts from the runtime start, which is the load address once it is aligned
    // (boot.rst, init_size): the decompressor works inside [load, load + init_size).
    const std::uint64_t footprint = max(image.protected_mode.size(), h.init_size);
    if (!memory.contains(load_address, footprint)) {
        return Error::of("bzimage: kernel (load address to init_size) does not fit in guest memory; load address",
                         load_address);
    }
    if (overlaps(load_address, load_address + footprint, reserved.start, reserved.end)) {
        return Error::of("bzimage: kernel (load address to init_size) overlaps tandem's boot data; load address",
                         load_address);
    }
    if (auto s = memory.write(load_address, image.protected_mode); !s) return s.error();
    LoadedKernel k;
    k.format = KernelFormat::bzimage;
    k.header = h;
    k.entry64 = load_address + kEntry64Offset;
    k.start = load_address;
    k.end = load_address + image.protected_mode.size();
    k.reserve_end = align_up(load_address + footprint, kPageSize);
    return k;
}

}  // namespace tandem::guest_boot::linux_boot
