#include "hypervisor/devices/uart16550_model.hpp"

namespace tandem {
namespace {
constexpr std::uint8_t kLcrDlab = 0x80;
constexpr std::uint8_t kLsrDataReady = 0x01, kLsrOverrun = 0x02, kLsrThrEmpty = 0x20, kLsrTransmitterEmpty = 0x40;
constexpr std::uint8_t kIirNoInterrupt = 0x01, kIirThrEmpty = 0x02, kIirReceivedData = 0x04, kIirFifosEnabled = 0xc0;
constexpr std::uint8_t kFcrClearReceiver = 0x02;
constexpr std::uint8_t kIerThrEmpty = 0x02, kMcrOut2 = 0x08;
// Modem status with loopback off: CTS, DSR and DCD asserted, so drivers that wait for the
// modem lines (Linux's 8250 does for flow control) see a connected terminal.
constexpr std::uint8_t kMsrConnected = 0xb0;
}  // namespace

std::uint32_t Uart16550Model::read(std::uint16_t port, unsigned) {
    switch (port - kBase) {
        case 0: {
            if (lcr_ & kLcrDlab) return dll_;
            std::uint8_t byte = rx_.pop();
            update_line();
            return byte;
        }
        case 1: return (lcr_ & kLcrDlab) ? dlm_ : ier_;
        case 2: return read_iir();
        case 3: return lcr_;
        case 4: return mcr_;
        case 5: return read_lsr();
        case 6: {
            if (!(mcr_ & kMcrLoopback)) return kMsrConnected;
            // Loopback: RTS -> CTS, DTR -> DSR, OUT1 -> RI, OUT2 -> DCD (PC16550D, MCR bit 4).
            return static_cast<std::uint32_t>(((mcr_ & 0x02) << 3) | ((mcr_ & 0x01) << 5) | ((mcr_ & 0x04) << 4) |
                                              ((mcr_ & 0x08) << 4));
        }
        case 7: return scratch_;
        default: return 0xff;
    }
}

std::uint8_t Uart16550Model::read_iir() {
    std::uint8_t fifos = (fcr_ & 1) ? kIirFifosEnabled : 0;
    if (receive_pending()) return kIirReceivedData | fifos;  // cleared by reading the data
    if (!interrupt_pending()) return kIirNoInterrupt | fifos;
    thre_pending_ = false;  // reading IIR with THRE as its source clears it
    update_line();
    return kIirThrEmpty | fifos;
}

std::uint8_t Uart16550Model::read_lsr() {
    std::uint8_t lsr = transmitter_ready() ? kLsrThrEmpty | kLsrTransmitterEmpty : 0;
    if (!rx_.empty()) lsr |= kLsrDataReady;
    if (rx_.take_overrun()) lsr |= kLsrOverrun;  // reported once, as the data sheet says
    return lsr;
}

void Uart16550Model::accept_input(std::uint8_t byte) {
    if (input_room() == 0) return;
    rx_.push(byte);
    update_line();
}

void Uart16550Model::write(std::uint16_t port, unsigned, std::uint32_t value) {
    auto byte = static_cast<std::uint8_t>(value);
    switch (port - kBase) {
        case 0:
            if (lcr_ & kLcrDlab) {
                dll_ = byte;
            } else {
                // Loopback mode keeps bytes off the line and hands them to the receiver.
                if (mcr_ & kMcrLoopback) {
                    rx_.push(byte);
                } else {
                    transmit(byte);
                }
                // THR is empty again, which is a new THRE interrupt, once the console has room.
                raise_thre_when_ready();
            }
            return;
        case 1:
            if (lcr_ & kLcrDlab) {
                dlm_ = byte;
            } else {
                // Enabling ETBEI with THR empty raises THRE at once (as real 16550s do; Linux's
                // 8250 probes for this and falls back to polling without it).
                bool enabling = (byte & kIerThrEmpty) && !(ier_ & kIerThrEmpty);
                ier_ = byte & 0x0f;
                if (enabling) {
                    raise_thre_when_ready();
                } else {
                    update_line();
                }
            }
            return;
        case 2:
            fcr_ = byte;
            if (byte & kFcrClearReceiver) {
                rx_.clear();
                update_line();
            }
            return;
        case 3: lcr_ = byte; return;
        case 4:
            mcr_ = byte & 0x1f;
            update_line();
            return;
        case 7: scratch_ = byte; return;
        default: return;  // LSR and MSR are read-only
    }
}

void Uart16550Model::transmit(std::uint8_t byte) {
    ++transmitted_;
    char c = static_cast<char>(byte);
    console_.write({&c, 1});
}

bool Uart16550Model::transmitter_ready() const {
    // The transmitter is empty when tandem's console can take what the guest may write on seeing
    // it: a byte, or the FIFO's 16 once enabled (Linux's 8250 then writes 16 without looking at
    // LSR again). In loopback nothing reaches the console.
    if (mcr_ & kMcrLoopback) return true;
    return console_.has_room((fcr_ & 1) ? kTransmitFifoDepth : 1);
}

void Uart16550Model::raise_thre_when_ready() {
    // Writing THR clears a THRE interrupt pending from before; it comes again when THR empties.
    transmit_waiting_ = !transmitter_ready();
    thre_pending_ = !transmit_waiting_;
    update_line();
}

void Uart16550Model::poll_transmitter() {
    if (!transmit_waiting_ || !transmitter_ready()) return;
    transmit_waiting_ = false;
    thre_pending_ = true;
    update_line();
}

void Uart16550Model::update_line() {
    bool up = interrupt_pending() && (mcr_ & kMcrOut2);
    if (up == line_up_) return;
    line_up_ = up;
    if (irq_ != nullptr) irq_->set_irq(pin_, up);
}

void Uart16550Model::save_state(ByteWriter& out) const {
    for (std::uint8_t r : {ier_, lcr_, mcr_, scratch_, dll_, dlm_, fcr_}) out.put(r);
    out.put<std::uint8_t>(static_cast<std::uint8_t>((thre_pending_ ? kThrePending : 0) |
                                                    (transmit_waiting_ ? kTransmitWaiting : 0)));
    out.put<std::uint8_t>(static_cast<std::uint8_t>(rx_.size()));
    for (std::size_t i = 0; i < rx_.size(); ++i) out.put(rx_.at(i));
    out.put<std::uint8_t>(rx_.overrun() ? 1 : 0);
}

Status Uart16550Model::restore_state(std::uint16_t version, std::span<const std::uint8_t> in) {
    if (version != 6) return Error::of("uart0: unsupported state version", version);
    ByteReader r(in);
    std::uint8_t regs[7];
    for (std::uint8_t& reg : regs) {
        if (!r.get(reg)) return Error::of("uart0: truncated state");
    }
    std::uint8_t thre = 0;
    if (!r.get(thre) || (thre & ~(kThrePending | kTransmitWaiting)) != 0) {
        return Error::of("uart0: bad transmitter flags in state", thre);
    }
    std::uint8_t received = 0;
    std::span<const std::uint8_t> rx_bytes;
    if (!r.get(received) || received > UartReceiveFifo::kDepth || !r.get_bytes(rx_bytes, received)) {
        return Error::of("uart0: bad receive FIFO in state", received);
    }
    std::uint8_t overrun = 0;
    if (!r.get(overrun) || overrun > 1) return Error::of("uart0: bad overrun flag in state");
    if (r.remaining() != 0) return Error::of("uart0: trailing bytes in state", r.remaining());
    ier_ = regs[0];
    lcr_ = regs[1];
    mcr_ = regs[2];
    scratch_ = regs[3];
    dll_ = regs[4];
    dlm_ = regs[5];
    fcr_ = regs[6];
    thre_pending_ = (thre & kThrePending) != 0;
    transmit_waiting_ = (thre & kTransmitWaiting) != 0;
    rx_.clear();
    for (std::uint8_t byte : rx_bytes) rx_.push(byte);
    rx_.set_overrun(overrun != 0);
    update_line();
    return success();
}

}  // namespace tandem
