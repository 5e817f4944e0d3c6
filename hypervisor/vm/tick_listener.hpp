// Work done between guest instructions at every periodic tick of the vCPU (console input, the
// guest's network, power requests): the vCPU loop calls each listener after a tick's exit.
#pragma once

namespace tandem {

class TickListener {
public:
    virtual void on_tick() = 0;

protected:
    ~TickListener() = default;
};

}  // namespace tandem
