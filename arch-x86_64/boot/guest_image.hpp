// Putting a test guest in memory (shared by every way tandem runs a guest): its module found by
// name, its ELF image loaded into guest RAM, its boot data written, its entry state chosen; and
// the small things every launch needs (the dirty-tracking method, the image hash).
#pragma once

#include <string_view>

#include "arch-x86_64/boot/boot_info.hpp"
#include "arch-x86_64/vmx/guest_entry.hpp"
#include "arch-x86_64/vmx/vmx_capabilities.hpp"
#include "hypervisor/config/config.hpp"
#include "hypervisor/vm/guest_memory.hpp"

namespace tandem::x86 {

std::string_view first_word(std::string_view s);
const boot::BootModule* find_module(const boot::BootInfo& info, std::string_view name);
// FNV-1a over the image's text and read-only data: what no guest may ever change.
std::uint64_t image_hash();
// The dirty-tracking method: the best the CPU has, or the one asked for if the CPU has it.
Result<DirtyTracking> dirty_method(const Config& config, const VmxCapabilities& caps);
// Finds config.guest_kernel among the modules, loads it into `memory` (which must be zeroed
// guest RAM), writes the test-guest boot data and returns the entry state. Every problem is
// reported on the console; the returned error says which step failed.
Result<GuestEntry> load_test_guest(const Config& config, const boot::BootInfo& boot, GuestMemory& memory);

}  // namespace tandem::x86
