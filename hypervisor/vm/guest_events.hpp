// What a mode (replication/sessions) hooks into the vCPU's exit handling. The vCPU calls these
// with the guest paused; a mode that must end the guest does so through its machine.
#pragma once

#include <cstdint>

namespace tandem {

class GuestEvents {
public:
    // The periodic tick is due by the host's clock, found so at whatever exit came first (the
    // next period is already armed).
    virtual void on_timer() = 0;
    // A guest write faulted on a page of guest RAM: true if the mode made it writable.
    virtual bool on_ram_write_fault(std::uint64_t gpa) = 0;
    // The page-modification log is full.
    virtual void on_pml_full() = 0;

protected:
    ~GuestEvents() = default;
};

}  // namespace tandem
