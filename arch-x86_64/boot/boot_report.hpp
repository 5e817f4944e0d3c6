// Boot-time reports on the console: what the loader gave us, the configuration in effect, and
// (on request) the raw multiboot 2 block in hex so the test harness can capture a real one.
#pragma once

#include "arch-x86_64/boot/boot_info.hpp"
#include "hypervisor/config/config.hpp"
#include "hypervisor/console/writer.hpp"
#include "hypervisor/util/result.hpp"

namespace tandem::x86 {

void report_boot_info(Writer& out, const boot::BootInfo& info);
// Every module must lie inside RAM the memory map calls available.
Status validate_modules(const boot::BootInfo& info);
void report_config(Writer& out, const Config& config);
// "mbi-dump: begin <size>", lines "mbi-dump: <64 hex digits>", "mbi-dump: end". The block is
// the first loader extent the multiboot 2 parser recorded.
void dump_multiboot2_block(Writer& out, const boot::BootInfo& info);

}  // namespace tandem::x86
