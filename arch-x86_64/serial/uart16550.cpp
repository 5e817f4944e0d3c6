#include "arch-x86_64/serial/uart16550.hpp"

#include "arch-x86_64/cpu/intrinsics.hpp"

namespace tandem::x86 {
namespace {
// Register offsets from the base port (PC16550D data sheet, Table II).
constexpr std::uint16_t kData = 0;          // THR/RBR, or divisor low with DLAB
constexpr std::uint16_t kInterruptEnable = 1;  // or divisor high with DLAB
constexpr std::uint16_t kFifoControl = 2;  // FCR on writes, IIR on reads
constexpr std::uint16_t kLineControl = 3;
constexpr std::uint16_t kModemControl = 4;
constexpr std::uint16_t kLineStatus = 5;
constexpr std::uint16_t kScratch = 7;

constexpr std::uint8_t kLcrDlab = 0x80;
constexpr std::uint8_t kLcr8N1 = 0x03;
constexpr std::uint8_t kLsrDataReady = 0x01;
constexpr std::uint8_t kLsrThrEmpty = 0x20;
constexpr std::uint16_t kDivisor115200 = 1;  // 1.8432 MHz / 16 / 115200
constexpr std::uint8_t kIirFifosEnabled = 0xc0;  // both bits: a 16550A's working FIFOs
constexpr std::size_t kTxFifo = 16;
// Bound the wait for THR-empty so a missing or wedged UART cannot hang the hypervisor.
constexpr int kTxSpinLimit = 1'000'000;
}  // namespace

bool Uart16550::init() {
    outb(static_cast<std::uint16_t>(base_ + kScratch), 0x5a);
    present_ = inb(static_cast<std::uint16_t>(base_ + kScratch)) == 0x5a;
    if (!present_) return false;
    outb(static_cast<std::uint16_t>(base_ + kInterruptEnable), 0x00);  // polled: no interrupts
    outb(static_cast<std::uint16_t>(base_ + kLineControl), kLcrDlab);
    outb(static_cast<std::uint16_t>(base_ + kData), kDivisor115200 & 0xff);
    outb(static_cast<std::uint16_t>(base_ + kInterruptEnable), kDivisor115200 >> 8);
    outb(static_cast<std::uint16_t>(base_ + kLineControl), kLcr8N1);
    // Enable and clear the FIFOs, receive threshold 1 byte. Polled, the threshold changes nothing
    // on a 16550 (LSR.DR shows any received byte), but Bochs sets LSR.DR below the threshold only
    // from a character-timeout timer that a later read does not cancel: it then fires with the
    // FIFO empty and the next read returns a stale byte (typed input gained NULs in the guest).
    outb(static_cast<std::uint16_t>(base_ + kFifoControl), 0x07);
    bool fifos = (inb(static_cast<std::uint16_t>(base_ + kFifoControl)) & kIirFifosEnabled) == kIirFifosEnabled;
    fifo_ = fifos ? kTxFifo : 1;
    outb(static_cast<std::uint16_t>(base_ + kModemControl), 0x03);  // DTR, RTS
    return true;
}

void Uart16550::put_raw(char c) {
    for (int i = 0; i < kTxSpinLimit; ++i) {
        if (inb(static_cast<std::uint16_t>(base_ + kLineStatus)) & kLsrThrEmpty) break;
        pause();
    }
    outb(static_cast<std::uint16_t>(base_ + kData), static_cast<std::uint8_t>(c));
}

std::size_t Uart16550::ready() {
    if (!present_) return kTxFifo;  // nothing to wait for: put() drops
    return (inb(static_cast<std::uint16_t>(base_ + kLineStatus)) & kLsrThrEmpty) ? fifo_ : 0;
}

void Uart16550::put(char c) {
    if (present_) outb(static_cast<std::uint16_t>(base_ + kData), static_cast<std::uint8_t>(c));
}

void Uart16550::write(std::string_view text) {
    if (!present_) return;
    for (char c : text) {
        if (c == '\n') put_raw('\r');
        put_raw(c);
    }
}

std::optional<char> Uart16550::try_read() {
    if (!present_) return std::nullopt;
    if (!(inb(static_cast<std::uint16_t>(base_ + kLineStatus)) & kLsrDataReady)) return std::nullopt;
    return static_cast<char>(inb(static_cast<std::uint16_t>(base_ + kData)));
}

}  // namespace tandem::x86
