#include "arch-x86_64/boot/boot_info.hpp"

namespace tandem::boot {

const char* memory_type_name(std::uint32_t type) {
    switch (static_cast<MemoryType>(type)) {
        case MemoryType::available: return "available";
        case MemoryType::reserved: return "reserved";
        case MemoryType::acpi_reclaimable: return "ACPI reclaimable";
        case MemoryType::acpi_nvs: return "ACPI NVS";
        case MemoryType::bad: return "bad";
    }
    return nullptr;
}

}  // namespace tandem::boot
