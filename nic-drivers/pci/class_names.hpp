// Human names for class codes (PCI Code and ID Assignment Specification 1.x, §1): the subclass
// name where one is known, else the class name.
#pragma once

#include <cstdint>

namespace tandem::pci {

const char* class_name(std::uint8_t class_code, std::uint8_t subclass);

}  // namespace tandem::pci
