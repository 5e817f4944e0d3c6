#include "arch-x86_64/boot/multiboot1.hpp"

#include "hypervisor/util/bytes.hpp"

namespace tandem::boot {
namespace {

// Offsets in the fixed information structure and the flag bits that make fields valid (§3.3).
constexpr std::size_t kInfoSize = 72;  // up to and including boot_loader_name and apm_table
constexpr std::uint32_t kFlagCmdline = 1u << 2;
constexpr std::uint32_t kFlagModules = 1u << 3;
constexpr std::uint32_t kFlagMmap = 1u << 6;
constexpr std::uint32_t kFlagLoaderName = 1u << 9;
constexpr std::size_t kCmdlineOffset = 16;
constexpr std::size_t kModsCountOffset = 20;
constexpr std::size_t kModsAddrOffset = 24;
constexpr std::size_t kMmapLengthOffset = 44;
constexpr std::size_t kMmapAddrOffset = 48;
constexpr std::size_t kLoaderNameOffset = 64;
constexpr std::size_t kModuleEntrySize = 16;
constexpr std::size_t kMaxString = 4096;
constexpr std::size_t kMaxMmapBytes = 64 * 1024;

Status add_extent(BootInfo& info, std::uint64_t start, std::uint64_t length) {
    if (info.loader_extent_count == BootInfo::kMaxLoaderExtents) {
        return Error::of("multiboot1: too many loader data ranges");
    }
    info.loader_extents[info.loader_extent_count++] = {start, start + length};
    return success();
}

// A NUL-terminated string at phys, at most kMaxString bytes with its NUL. Read one byte at a
// time so a string that ends right before unreadable memory is still found.
Status read_string(const PhysicalReader& memory, std::uint64_t phys, std::string_view& out, BootInfo& info,
                   const char* what) {
    for (std::size_t n = 0; n < kMaxString; ++n) {
        std::span<const std::uint8_t> byte = memory.bytes(phys + n, 1);
        if (byte.empty()) return Error::of(what, phys);
        if (byte[0] == 0) {
            std::span<const std::uint8_t> whole = memory.bytes(phys, n + 1);
            if (whole.empty()) return Error::of(what, phys);
            out = std::string_view{reinterpret_cast<const char*>(whole.data()), n};
            return add_extent(info, phys, n + 1);
        }
    }
    return Error::of(what, phys);
}

}  // namespace

Status parse_multiboot1(const PhysicalReader& memory, std::uint64_t info_phys, BootInfo& info) {
    info = BootInfo{};
    info.protocol = BootInfo::Protocol::multiboot1;
    std::span<const std::uint8_t> fixed = memory.bytes(info_phys, kInfoSize);
    if (fixed.empty()) return Error::of("multiboot1: information structure is not in readable memory", info_phys);
    if (auto s = add_extent(info, info_phys, kInfoSize); !s) return s;
    std::uint32_t flags = load_le<std::uint32_t>(fixed, 0);

    if (flags & kFlagCmdline) {
        auto s = read_string(memory, load_le<std::uint32_t>(fixed, kCmdlineOffset), info.cmdline, info,
                             "multiboot1: command line is not a readable NUL-terminated string");
        if (!s) return s;
        info.has_cmdline = true;
    }
    if (flags & kFlagLoaderName) {
        auto s = read_string(memory, load_le<std::uint32_t>(fixed, kLoaderNameOffset), info.loader_name, info,
                             "multiboot1: boot loader name is not a readable NUL-terminated string");
        if (!s) return s;
    }
    if (flags & kFlagModules) {
        std::uint32_t count = load_le<std::uint32_t>(fixed, kModsCountOffset);
        std::uint32_t addr = load_le<std::uint32_t>(fixed, kModsAddrOffset);
        if (count > BootInfo::kMaxModules) return Error::of("multiboot1: more modules than tandem accepts (16)", count);
        std::span<const std::uint8_t> list = memory.bytes(addr, count * kModuleEntrySize);
        if (count != 0 && list.empty()) return Error::of("multiboot1: module list is not in readable memory", addr);
        if (auto s = add_extent(info, addr, count * kModuleEntrySize); !s) return s;
        for (std::uint32_t i = 0; i < count; ++i) {
            std::size_t at = i * kModuleEntrySize;
            std::uint32_t start = load_le<std::uint32_t>(list, at);
            std::uint32_t end = load_le<std::uint32_t>(list, at + 4);
            if (end < start) return Error::of("multiboot1: module ends before it starts", i);
            std::string_view cmdline;
            if (std::uint32_t str = load_le<std::uint32_t>(list, at + 8); str != 0) {
                auto s = read_string(memory, str, cmdline, info,
                                     "multiboot1: module string is not a readable NUL-terminated string");
                if (!s) return s;
            }
            info.modules[info.module_count++] = {start, end, cmdline};
        }
    }
    if (flags & kFlagMmap) {
        std::uint32_t length = load_le<std::uint32_t>(fixed, kMmapLengthOffset);
        std::uint32_t addr = load_le<std::uint32_t>(fixed, kMmapAddrOffset);
        if (length > kMaxMmapBytes) return Error::of("multiboot1: memory map length is implausibly large", length);
        std::span<const std::uint8_t> map = memory.bytes(addr, length);
        if (length != 0 && map.empty()) return Error::of("multiboot1: memory map is not in readable memory", addr);
        if (auto s = add_extent(info, addr, length); !s) return s;
        info.has_memory_map = true;
        // Each entry: u32 size (not counting itself), u64 base, u64 length, u32 type.
        std::size_t pos = 0;
        while (pos < map.size()) {
            if (!fits(map.size(), pos, 4)) return Error::of("multiboot1: memory map ends inside an entry", pos);
            std::uint32_t size = load_le<std::uint32_t>(map, pos);
            if (size < 20 || !fits(map.size(), pos + 4, size)) {
                return Error::of("multiboot1: memory map entry has a bad size", pos);
            }
            if (info.region_count == BootInfo::kMaxRegions) {
                return Error::of("multiboot1: memory map has more entries than tandem accepts (128)", pos);
            }
            MemoryRegion r{load_le<std::uint64_t>(map, pos + 4), load_le<std::uint64_t>(map, pos + 12),
                           load_le<std::uint32_t>(map, pos + 20)};
            if (r.length != 0 && r.base + r.length < r.base) {
                return Error::of("multiboot1: memory map entry wraps around the address space", pos);
            }
            info.regions[info.region_count++] = r;
            pos += 4 + static_cast<std::size_t>(size);
        }
    }
    return success();
}

}  // namespace tandem::boot
