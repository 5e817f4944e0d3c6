// Installs the hypervisor's GDT (code, data, TSS), TSS (with interrupt stacks for #DF, NMI
// and #MC) and IDT (every vector routed to exception_stubs.S).
#pragma once

#include <cstdint>

namespace tandem::x86 {

void install_descriptor_tables();

// Where the installed tables live (the VMCS host-state area needs them, SDM Vol. 3C §25.5).
struct HostDescriptorTables {
    std::uint64_t gdt_base;
    std::uint64_t idt_base;
    std::uint64_t tss_base;
};
HostDescriptorTables host_descriptor_tables();

}  // namespace tandem::x86
