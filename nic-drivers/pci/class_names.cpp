#include "nic-drivers/pci/class_names.hpp"

namespace tandem::pci {
namespace {

struct SubclassName {
    std::uint8_t class_code;
    std::uint8_t subclass;
    const char* name;
};

constexpr SubclassName kSubclasses[] = {
    {0x01, 0x00, "SCSI"},        {0x01, 0x01, "IDE"},        {0x01, 0x06, "SATA"},       {0x01, 0x08, "NVMe"},
    {0x02, 0x00, "Ethernet"},    {0x03, 0x00, "VGA"},        {0x04, 0x01, "Audio"},      {0x04, 0x03, "HD audio"},
    {0x06, 0x00, "Host bridge"}, {0x06, 0x01, "ISA bridge"}, {0x06, 0x04, "PCI bridge"}, {0x06, 0x80, "Other bridge"},
    {0x08, 0x00, "PIC"},         {0x0c, 0x03, "USB"},        {0x0c, 0x05, "SMBus"},
};

constexpr const char* kClasses[] = {
    "Unclassified",    "Storage",   "Network",    "Display",           "Multimedia",  "Memory",          "Bridge",
    "Communication",   "System",    "Input",      "Docking",           "Processor",   "Serial bus",      "Wireless",
    "Intelligent I/O", "Satellite", "Encryption", "Signal processing", "Accelerator", "Instrumentation",
};

}  // namespace

const char* class_name(std::uint8_t class_code, std::uint8_t subclass) {
    for (const SubclassName& s : kSubclasses) {
        if (s.class_code == class_code && s.subclass == subclass) return s.name;
    }
    if (class_code < sizeof(kClasses) / sizeof(kClasses[0])) return kClasses[class_code];
    return "Unknown";
}

}  // namespace tandem::pci
