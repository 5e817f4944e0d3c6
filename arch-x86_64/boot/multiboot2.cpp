#include "arch-x86_64/boot/multiboot2.hpp"

#include "hypervisor/util/bytes.hpp"

namespace tandem::boot {
namespace {

constexpr std::size_t kTagHeader = 8;     // u32 type, u32 size
constexpr std::size_t kMmapHeader = 16;   // tag header + u32 entry_size + u32 entry_version
constexpr std::size_t kMmapEntryMin = 24; // u64 base, u64 length, u32 type, u32 reserved
constexpr std::size_t kModuleHeader = 16; // tag header + u32 mod_start + u32 mod_end

Status fail(const char* message, std::size_t offset) { return Error::of(message, offset); }

Status add_loader_extent(BootInfo& info, std::uint64_t start, std::uint64_t end) {
    if (info.loader_extent_count == BootInfo::kMaxLoaderExtents) {
        return Error::of("multiboot2: too many loader data ranges");
    }
    info.loader_extents[info.loader_extent_count++] = {start, end};
    return success();
}

Status parse_mmap(std::span<const std::uint8_t> tag, std::size_t offset, BootInfo& info) {
    if (tag.size() < kMmapHeader) return fail("multiboot2: memory map tag is shorter than its header", offset);
    std::uint32_t entry_size = load_le<std::uint32_t>(tag, 8);
    if (entry_size < kMmapEntryMin || entry_size % 8 != 0) {
        return fail("multiboot2: memory map entry size is not a multiple of 8 of at least 24 bytes", offset + 8);
    }
    if (info.has_memory_map) return fail("multiboot2: second memory map tag", offset);
    info.has_memory_map = true;
    for (std::size_t pos = kMmapHeader; pos + entry_size <= tag.size(); pos += entry_size) {
        if (info.region_count == BootInfo::kMaxRegions) {
            return fail("multiboot2: memory map has more entries than tandem accepts (128)", offset + pos);
        }
        MemoryRegion r{load_le<std::uint64_t>(tag, pos), load_le<std::uint64_t>(tag, pos + 8),
                       load_le<std::uint32_t>(tag, pos + 16)};
        if (r.length != 0 && r.base + r.length < r.base) {
            return fail("multiboot2: memory map entry wraps around the address space", offset + pos);
        }
        info.regions[info.region_count++] = r;
    }
    if ((tag.size() - kMmapHeader) % entry_size != 0) {
        return fail("multiboot2: memory map tag ends inside an entry", offset);
    }
    return success();
}

Status parse_module(std::span<const std::uint8_t> tag, std::size_t offset, BootInfo& info) {
    if (tag.size() < kModuleHeader + 1) return fail("multiboot2: module tag is too short", offset);
    std::uint32_t start = load_le<std::uint32_t>(tag, 8);
    std::uint32_t end = load_le<std::uint32_t>(tag, 12);
    if (end < start) return fail("multiboot2: module ends before it starts", offset);
    std::string_view cmdline;
    if (!c_string_in(tag, kModuleHeader, tag.size() - kModuleHeader, cmdline)) {
        return fail("multiboot2: module string is not NUL-terminated inside its tag", offset);
    }
    if (info.module_count == BootInfo::kMaxModules) {
        return fail("multiboot2: more modules than tandem accepts (16)", offset);
    }
    info.modules[info.module_count++] = {start, end, cmdline};
    return success();
}

Status parse_string_tag(std::span<const std::uint8_t> tag, std::size_t offset, std::string_view& out,
                        const char* what_not_terminated) {
    if (!c_string_in(tag, kTagHeader, tag.size() - kTagHeader, out)) return fail(what_not_terminated, offset);
    return success();
}

}  // namespace

Result<std::uint32_t> multiboot2_total_size(std::span<const std::uint8_t> header) {
    if (header.size() < 8) return Error::of("multiboot2: information block is shorter than its 8-byte header");
    std::uint32_t total = load_le<std::uint32_t>(header, 0);
    if (total < 16) return Error::of("multiboot2: total_size is smaller than header plus end tag", total);
    if (total > kMultiboot2MaxBlock) return Error::of("multiboot2: total_size is implausibly large", total);
    return total;
}

Status parse_multiboot2(std::span<const std::uint8_t> block, std::uint64_t phys_base, BootInfo& info) {
    info = BootInfo{};
    info.protocol = BootInfo::Protocol::multiboot2;
    auto total = multiboot2_total_size(block);
    if (!total) return total.error();
    if (*total > block.size()) return fail("multiboot2: total_size is larger than the block", 0);
    block = block.first(*total);
    if (auto s = add_loader_extent(info, phys_base, phys_base + block.size()); !s) return s;

    bool seen_end = false;
    bool seen_loader_name = false;
    std::size_t offset = 8;  // tags start after total_size and reserved
    while (!seen_end) {
        if (!fits(block.size(), offset, kTagHeader)) {
            return fail("multiboot2: block ends without an end tag", offset);
        }
        std::uint32_t type = load_le<std::uint32_t>(block, offset);
        std::uint32_t size = load_le<std::uint32_t>(block, offset + 4);
        if (size < kTagHeader) return fail("multiboot2: tag size is smaller than the tag header", offset);
        if (!fits(block.size(), offset, size)) return fail("multiboot2: tag runs past the end of the block", offset);
        std::span<const std::uint8_t> tag = block.subspan(offset, size);

        Status status = success();
        switch (static_cast<Mb2Tag>(type)) {
            case Mb2Tag::end:
                if (size != kTagHeader) return fail("multiboot2: end tag has a size other than 8", offset);
                seen_end = true;
                break;
            case Mb2Tag::cmdline:
                if (info.has_cmdline) return fail("multiboot2: second command line tag", offset);
                status = parse_string_tag(tag, offset, info.cmdline,
                                          "multiboot2: command line is not NUL-terminated inside its tag");
                info.has_cmdline = status.ok();
                break;
            case Mb2Tag::loader_name:
                if (seen_loader_name) return fail("multiboot2: second boot loader name tag", offset);
                seen_loader_name = true;
                status = parse_string_tag(tag, offset, info.loader_name,
                                          "multiboot2: boot loader name is not NUL-terminated inside its tag");
                break;
            case Mb2Tag::module:
                status = parse_module(tag, offset, info);
                break;
            case Mb2Tag::mmap:
                status = parse_mmap(tag, offset, info);
                break;
            case Mb2Tag::acpi_old:
            case Mb2Tag::acpi_new:
                // Prefer the ACPI 2.0+ copy when a loader provides both.
                if (static_cast<Mb2Tag>(type) == Mb2Tag::acpi_new || info.acpi_rsdp.empty()) {
                    if (size < kTagHeader + 20) return fail("multiboot2: ACPI RSDP tag is too short", offset);
                    info.acpi_rsdp = tag.subspan(kTagHeader);
                }
                break;
            default:
                break;  // tags we do not use (framebuffer, ELF sections, EFI, ...) are skipped
        }
        if (!status) return status;
        // Tags are padded to 8-byte alignment (§3.6.1).
        std::size_t next = offset + ((static_cast<std::size_t>(size) + 7) & ~std::size_t{7});
        if (!seen_end && next > block.size()) return fail("multiboot2: block ends without an end tag", offset);
        offset = next;
    }
    return success();
}

}  // namespace tandem::boot
