// What the boot loader told us, independent of the protocol it used (multiboot 2 from GRUB,
// multiboot 1 from QEMU's -kernel): command line, memory map, modules, ACPI root pointer, and
// the physical ranges the loader's data occupies (which the frame allocator must not hand out).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace tandem::boot {

// Memory types as multiboot defines them (same numbering as ACPI/e820).
enum class MemoryType : std::uint32_t {
    available = 1,
    reserved = 2,
    acpi_reclaimable = 3,
    acpi_nvs = 4,
    bad = 5,
};
// "available", "reserved", ...; nullptr for a type multiboot does not define.
const char* memory_type_name(std::uint32_t type);

struct MemoryRegion {
    std::uint64_t base;
    std::uint64_t length;
    std::uint32_t type;
};

struct BootModule {
    std::uint64_t start;  // physical, inclusive
    std::uint64_t end;    // physical, exclusive
    std::string_view cmdline;
};

struct PhysicalExtent {
    std::uint64_t start;
    std::uint64_t end;  // exclusive
};

struct BootInfo {
    static constexpr std::size_t kMaxRegions = 128;
    static constexpr std::size_t kMaxModules = 16;
    static constexpr std::size_t kMaxLoaderExtents = kMaxModules + 8;

    enum class Protocol { multiboot1, multiboot2 } protocol = Protocol::multiboot2;

    std::string_view cmdline;
    bool has_cmdline = false;
    std::string_view loader_name;

    MemoryRegion regions[kMaxRegions]{};
    std::size_t region_count = 0;
    bool has_memory_map = false;

    BootModule modules[kMaxModules]{};
    std::size_t module_count = 0;

    // Copy of the ACPI RSDP the loader found (multiboot 2 tags 14/15); empty when absent.
    std::span<const std::uint8_t> acpi_rsdp;

    // The loader's own data (information block, strings, module list): never allocate over it.
    PhysicalExtent loader_extents[kMaxLoaderExtents]{};
    std::size_t loader_extent_count = 0;

    std::span<const MemoryRegion> memory_map() const { return {regions, region_count}; }
    std::span<const BootModule> module_list() const { return {modules, module_count}; }
    std::span<const PhysicalExtent> loader_data() const { return {loader_extents, loader_extent_count}; }
};

}  // namespace tandem::boot
