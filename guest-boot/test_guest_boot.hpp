// Boot data for a bare-metal test guest (guest-boot/test_guest_abi.hpp): the GDT, the command
// line, and for 64-bit entry the identity page tables covering the first 4 GiB.
#pragma once

#include <string_view>

#include "hypervisor/util/result.hpp"
#include "hypervisor/vm/guest_memory.hpp"

namespace tandem::guest_boot {

enum class EntryMode : std::uint8_t { real16, protected32, long64 };
const char* entry_mode_name(EntryMode mode);

Status write_test_guest_boot_data(GuestMemory& memory, std::string_view cmdline, EntryMode mode);

}  // namespace tandem::guest_boot
