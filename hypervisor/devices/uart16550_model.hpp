// The guest's 16550 UART at 0x3f8 (DESIGN §6). What the guest transmits goes to tandem's
// console byte for byte, as written (issue 16: the guest's console shown raw; the console tells
// tandem's lines from the guest's, buffered_console.hpp). What is typed into the guest's console
// (console_mux.hpp) arrives in the receive FIFO (uart_receive_fifo.hpp) as fast as the guest
// empties it. Registers follow the PC16550D data sheet; the model never blocks. LSR.THRE and
// TEMT say whether the console can take what the guest may write now (Writer::has_room: tandem's
// buffered console fills while the serial line is slower than the guest): the guest's transmitter
// runs at the serial line's pace, like a real UART's, and a guest that waits for THRE loses
// nothing; a byte written regardless is taken, and the console drops it if it does not fit.
//
// The transmitter-empty interrupt (PC16550D "Interrupt Identification Register"): pending when
// THRE becomes set (after a THR write, or when IER.ETBEI is turned on, at once if the console
// has room, else at the first poll_transmitter() that finds room: every tick), reported by IIR
// 0x02 and cleared by reading IIR or writing THR. The interrupt line
// (optional: set_interrupt_line) is that pending state AND IER.ETBEI AND MCR.OUT2, the PC's gate
// for COM port interrupts. Linux's 8250 driver sends its tty output (what userspace writes to the
// console) on these interrupts; without them it falls back to a slow poll.
//
// The received-data interrupt (IER.ERBFI): pending while the receive FIFO holds a byte, reported
// by IIR 0x04, which ranks above THRE (the data sheet's priority table), and cleared by reading
// the FIFO empty. It is reported at once rather than at a trigger level or character timeout
// (IIR 0x0c): the guest's driver reads every byte LSR.DR shows either way.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "hypervisor/console/console_input_sink.hpp"
#include "hypervisor/console/writer.hpp"
#include "hypervisor/devices/device_state.hpp"
#include "hypervisor/devices/interrupt_line.hpp"
#include "hypervisor/devices/port_io.hpp"
#include "hypervisor/devices/uart_receive_fifo.hpp"

namespace tandem {

class Uart16550Model final : public PortIoDevice, public StatefulDevice, public ConsoleInputSink {
public:
    static constexpr std::uint16_t kBase = 0x3f8;
    static constexpr std::uint16_t kPorts = 8;
    // Registers, the transmitter's flags, the receive FIFO with its count and overrun flag.
    static constexpr std::size_t kStateBytes = 10 + UartReceiveFifo::kDepth;
    static_assert(kStateBytes <= kMaxDeviceStateBytes);

    static constexpr unsigned kIrqPin = 4;  // COM1: ISA IRQ 4

    explicit Uart16550Model(Writer& console) : console_(console) {}
    void set_interrupt_line(IrqLines* lines, unsigned pin = kIrqPin) {
        irq_ = lines;
        pin_ = pin;
        update_line();
    }

    std::uint32_t read(std::uint16_t port, unsigned size) override;
    void write(std::uint16_t port, unsigned size, std::uint32_t value) override;
    std::uint64_t bytes_transmitted() const { return transmitted_; }
    // At every tick: THR emptied while the console had no room becomes THRE (and its interrupt)
    // once it has.
    void poll_transmitter();

    // Typed input. None is taken in loopback mode, where the receiver hears only the transmitter.
    std::size_t input_room() const override { return (mcr_ & kMcrLoopback) ? 0 : rx_.room(); }
    void accept_input(std::uint8_t byte) override;

    std::uint16_t state_id() const override { return kDeviceIdUart0; }
    std::uint16_t state_version() const override { return 6; }
    const char* state_name() const override { return "uart0"; }
    // Registers and the received bytes the guest has not read (what it transmitted has left:
    // nothing of it is held here since version 5; version 6 adds the THRE waiting for room).
    void save_state(ByteWriter& out) const override;
    Status restore_state(std::uint16_t version, std::span<const std::uint8_t> in) override;

private:
    static constexpr std::uint8_t kMcrLoopback = 0x10;
    static constexpr std::size_t kTransmitFifoDepth = 16;
    static constexpr std::uint8_t kThrePending = 1, kTransmitWaiting = 2;  // the state's flags
    std::uint8_t read_iir();
    std::uint8_t read_lsr();
    void transmit(std::uint8_t byte);
    bool transmitter_ready() const;
    void raise_thre_when_ready();
    bool receive_pending() const { return !rx_.empty() && (ier_ & 0x01); }
    bool interrupt_pending() const { return receive_pending() || (thre_pending_ && (ier_ & 0x02)); }
    void update_line();

    Writer& console_;
    std::uint8_t ier_ = 0, lcr_ = 0, mcr_ = 0, scratch_ = 0, dll_ = 1, dlm_ = 0, fcr_ = 0;
    bool thre_pending_ = false;
    bool transmit_waiting_ = false;  // THR emptied while the console had no room: THRE waits for it
    UartReceiveFifo rx_;
    IrqLines* irq_ = nullptr;
    unsigned pin_ = kIrqPin;
    bool line_up_ = false;
    std::uint64_t transmitted_ = 0;
};

}  // namespace tandem
