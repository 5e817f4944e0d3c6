// Installs the hypervisor's GDT (code, data, TSS), TSS (with interrupt stacks for #DF, NMI
// and #MC) and IDT (every vector routed to exception_stubs.S).
#pragma once

namespace tandem::x86 {

void install_descriptor_tables();

}  // namespace tandem::x86
