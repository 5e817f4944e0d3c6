// The 16550 UART on COM1: tandem's console (115200 8N1, polled). Writes translate "\n" to
// "\r\n" so any serial terminal shows proper lines.
#pragma once

#include <cstdint>
#include <optional>

#include "hypervisor/console/writer.hpp"

namespace tandem::x86 {

class Uart16550 final : public Writer {
public:
    explicit constexpr Uart16550(std::uint16_t base) : base_(base) {}

    // Programs 115200 8N1 with FIFOs enabled. Returns false when no UART answers at base
    // (the scratch register does not hold a value), in which case writes are dropped.
    bool init();
    void write(std::string_view text) override;
    std::optional<char> try_read();
    bool present() const { return present_; }

private:
    void put_raw(char c);

    std::uint16_t base_;
    bool present_ = false;
};

}  // namespace tandem::x86
