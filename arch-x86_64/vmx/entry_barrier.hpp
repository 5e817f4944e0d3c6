// What runs immediately before every VM entry against transient-execution attacks, as the
// processor needs it (speculation.hpp decides): an L1 data cache flush through IA32_FLUSH_CMD
// (L1TF), or VERW with a memory operand, which overwrites the CPU's store, fill and load buffers
// on processors enumerating MD_CLEAR (MDS, TAA; Intel's "Deep Dive: MDS": only the memory-operand
// form is documented to clear them). Nothing of tandem's is read between this and VMLAUNCH/
// VMRESUME but the guest's registers.
#pragma once

#include <cstdint>

#include "arch-x86_64/cpu/intrinsics.hpp"
#include "arch-x86_64/vmx/speculation.hpp"

namespace tandem::x86 {

class EntryBarrier {
public:
    void configure(const SpeculationPlan& plan) {
        flush_l1d_ = plan.flush_l1d_before_entry;
        verw_ = plan.verw_before_entry;
        asm volatile("mov %%ds, %0" : "=r"(selector_));  // any valid writable data selector
    }
    void before_entry() const {
        if (flush_l1d_) {
            wrmsr(kMsrFlushCmd, kFlushCmdL1d);
        } else if (verw_) {
            asm volatile("verw %0" ::"m"(selector_) : "cc");
        }
    }

private:
    bool flush_l1d_ = false;
    bool verw_ = false;
    std::uint16_t selector_ = 0;
};

}  // namespace tandem::x86
