#include "hypervisor/devices/pic8259_model.hpp"

namespace tandem {
namespace {

constexpr std::uint8_t kReadIsr = 1, kSpecialMask = 2, kPoll = 4, kFlagBits = 7;
constexpr std::uint8_t kIcw1Icw4 = 0x01, kIcw1Single = 0x02;
constexpr std::uint8_t kCascadeInput = 1u << 2;  // the slave hangs on the master's IR2
// Edge/level control: IRQ 0, 1, 2, 8 and 13 are always edge-triggered (PIIX/ICH ELCR).
constexpr std::uint8_t kElcrWritable[2] = {0xf8, 0xde};
// As a BIOS leaves it: initialised, vectors 0x08 and 0x70, slave on IR2, 8086 mode, all masked.
constexpr std::uint8_t kResetIcw2[2] = {0x08, 0x70};
constexpr std::uint8_t kResetIcw3[2] = {kCascadeInput, 2};

}  // namespace

Pic8259Model::Pic8259Model(Writer& log) : log_(log) {
    for (unsigned i = 0; i < 2; ++i) {
        chips_[i].icw1 = 0x11;
        chips_[i].icw2 = kResetIcw2[i];
        chips_[i].icw3 = kResetIcw3[i];
        chips_[i].icw4 = 0x01;
    }
}

std::uint32_t Pic8259Model::read(std::uint16_t port, unsigned size) {
    // Wider accesses are taken byte by byte (0x20 and 0x21 are neighbours).
    std::uint32_t value = 0;
    for (unsigned i = 0; i < size && i < 4; ++i)
        value |= static_cast<std::uint32_t>(read_byte(static_cast<std::uint16_t>(port + i))) << (8 * i);
    return value;
}

void Pic8259Model::write(std::uint16_t port, unsigned size, std::uint32_t value) {
    for (unsigned i = 0; i < size && i < 4; ++i)
        write_byte(static_cast<std::uint16_t>(port + i), static_cast<std::uint8_t>(value >> (8 * i)));
}

std::uint8_t Pic8259Model::read_byte(std::uint16_t port) {
    switch (port) {
        case kMasterBase:
        case kSlaveBase: {
            Chip& c = chips_[port == kSlaveBase];
            // Poll byte, IRR or ISR: nothing is ever pending here.
            c.flags &= static_cast<std::uint8_t>(~kPoll);
            return 0;
        }
        case kMasterBase + 1: return chips_[0].imr;
        case kSlaveBase + 1: return chips_[1].imr;
        case kElcrBase: return chips_[0].elcr;
        case kElcrBase + 1: return chips_[1].elcr;
        default: return 0xff;  // not ours (a wide access running past the range)
    }
}

void Pic8259Model::write_byte(std::uint16_t port, std::uint8_t value) {
    switch (port) {
        case kMasterBase: return write_command(0, value);
        case kSlaveBase: return write_command(1, value);
        case kMasterBase + 1: return write_data(0, value);
        case kSlaveBase + 1: return write_data(1, value);
        case kElcrBase: chips_[0].elcr = value & kElcrWritable[0]; return;
        case kElcrBase + 1: chips_[1].elcr = value & kElcrWritable[1]; return;
        default: return;
    }
}

void Pic8259Model::write_command(unsigned chip, std::uint8_t value) {
    Chip& c = chips_[chip];
    if (value & 0x10) {
        // ICW1 starts initialisation: the mask is cleared, status reads select the IRR, special
        // mask mode ends (8259A data sheet, "Initialization Command Words").
        c.icw1 = value;
        c.imr = 0;
        c.flags = 0;
        c.init_step = 2;
        return;
    }
    if (value & 0x08) {  // OCW3
        // RR selects IRR or ISR for reads, ESMM switches special mask mode, P polls.
        auto set_flag = [&](std::uint8_t flag, bool on) {
            c.flags = static_cast<std::uint8_t>(on ? c.flags | flag : c.flags & ~flag);
        };
        if (value & 0x02) set_flag(kReadIsr, (value & 0x01) != 0);
        if (value & 0x40) set_flag(kSpecialMask, (value & 0x20) != 0);
        if (value & 0x04) c.flags |= kPoll;
        return;
    }
    // OCW2: EOI and priority rotation. With nothing ever in service there is nothing to end.
}

void Pic8259Model::write_data(unsigned chip, std::uint8_t value) {
    Chip& c = chips_[chip];
    switch (c.init_step) {
        case 2:
            c.icw2 = value & 0xf8;  // 8086 mode: the vector base; the low bits are the IRQ
            c.init_step = (c.icw1 & kIcw1Single) ? ((c.icw1 & kIcw1Icw4) ? 4 : 0) : 3;
            return;
        case 3:
            c.icw3 = value;
            c.init_step = (c.icw1 & kIcw1Icw4) ? 4 : 0;
            return;
        case 4:
            c.icw4 = value;
            c.init_step = 0;
            return;
        default: break;
    }
    // OCW1: the interrupt mask.
    c.imr = value;
    std::uint8_t unmasked = static_cast<std::uint8_t>(~value & (chip == 0 ? ~kCascadeInput : 0xff));
    if (unmasked == 0) return;
    ++unmask_requests_;
    if (reported_) return;
    reported_ = true;
    unsigned irq = 0;
    while (!(unmasked & (1u << irq))) ++irq;
    println(log_,
            "vm: pic: the guest unmasked IRQ {} in the legacy PIC; tandem delivers interrupts only through the "
            "IOAPIC (no ExtINT), so the PIC delivers nothing",
            irq + 8 * chip);
}

void Pic8259Model::save_state(ByteWriter& out) const {
    for (const Chip& c : chips_) {
        for (std::uint8_t b : {c.imr, c.init_step, c.icw1, c.icw2, c.icw3, c.icw4, c.flags, c.elcr}) out.put(b);
    }
}

Status Pic8259Model::restore_state(std::uint16_t version, std::span<const std::uint8_t> in) {
    if (version != 1) return Error::of("pic: unsupported state version", version);
    ByteReader r(in);
    Chip chips[2];
    for (unsigned i = 0; i < 2; ++i) {
        Chip& c = chips[i];
        if (!r.get(c.imr) || !r.get(c.init_step) || !r.get(c.icw1) || !r.get(c.icw2) || !r.get(c.icw3) ||
            !r.get(c.icw4) || !r.get(c.flags) || !r.get(c.elcr)) {
            return Error::of("pic: truncated state");
        }
        if (c.init_step == 1 || c.init_step > 4) return Error::of("pic: bad initialisation step in state", c.init_step);
        if ((c.flags & ~kFlagBits) || (c.elcr & ~kElcrWritable[i]) || (c.icw2 & 7) || !(c.icw1 & 0x10)) {
            return Error::of("pic: bad register in state", i);
        }
    }
    if (r.remaining() != 0) return Error::of("pic: trailing bytes in state", r.remaining());
    chips_[0] = chips[0];
    chips_[1] = chips[1];
    return success();
}

}  // namespace tandem
