#include "arch-x86_64/paging/host_address_space.hpp"

namespace tandem::x86 {
namespace {
bool is_ram(std::uint32_t type) {
    using boot::MemoryType;
    return type == static_cast<std::uint32_t>(MemoryType::available) ||
           type == static_cast<std::uint32_t>(MemoryType::acpi_reclaimable) ||
           type == static_cast<std::uint32_t>(MemoryType::acpi_nvs);
}
}  // namespace

Result<std::size_t> plan_host_address_space(const ImageLayout& image, std::span<const boot::MemoryRegion> memory_map,
                                            std::span<HostMapping> out) {
    if (out.size() < kMaxHostMappings) return Error::of("paging: plan buffer too small", out.size());
    std::size_t n = 0;
    out[n++] = {image.text, kText, "image text"};
    out[n++] = {image.rodata, kReadOnlyData, "image read-only data"};
    out[n++] = {image.data, kReadWriteData, "image data"};

    // A page-granular range set merges overlapping map entries and cuts out the image and
    // page 0 for us. RAM that does not fill whole pages is left out.
    PageRangeSet<kMaxRamMappings> ram;
    for (const boot::MemoryRegion& r : memory_map) {
        if (!is_ram(r.type) || r.length == 0) continue;
        std::uint64_t end = r.base + r.length;
        if (end > kCanonicalLowerLimit) end = kCanonicalLowerLimit;
        if (r.base >= end) continue;
        if (auto s = ram.add({r.base, end}); !s) return s.error();
    }
    // Where the map lists a region twice, anything not RAM wins: never map device or firmware
    // memory as ordinary write-back RAM.
    for (const boot::MemoryRegion& r : memory_map) {
        if (is_ram(r.type) || r.length == 0 || r.base + r.length < r.base) continue;
        if (auto s = ram.remove({r.base, r.base + r.length}); !s) return s.error();
    }
    if (auto s = ram.remove({0, kPageSize}); !s) return s.error();
    if (auto s = ram.remove({image.text.start, image.data.end}); !s) return s.error();
    for (const PhysRange& r : ram.ranges()) out[n++] = {r, kReadWriteData, "RAM"};
    return n;
}

}  // namespace tandem::x86
